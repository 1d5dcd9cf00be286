"""Request IDs: accepted from X-Request-ID (or made up), returned in the response, added to
every log line, and carried into the Celery tasks a request triggers."""

import logging
import re
import uuid
from contextvars import ContextVar

from celery.signals import before_task_publish, task_postrun, task_prerun

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
VALID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = "X-Request-ID"


class RequestIDMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER, "")
        request_id = incoming if VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request_id
        return response


class RequestIDFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


@before_task_publish.connect
def _carry_request_id(headers=None, **kwargs):
    if headers is not None and request_id_var.get() != "-":
        headers.setdefault("request_id", request_id_var.get())


@task_prerun.connect
def _adopt_request_id(task=None, **kwargs):
    request_id = getattr(task.request, "request_id", None) if task else None
    task.request._request_id_token = request_id_var.set(request_id or f"task-{task.request.id}")


@task_postrun.connect
def _drop_request_id(task=None, **kwargs):
    token = getattr(task.request, "_request_id_token", None) if task else None
    if token is not None:
        request_id_var.reset(token)
