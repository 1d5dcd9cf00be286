"""The database unreachable (restarting, failed over, out of connections): answer at once
with a clear 503 the customer can act on, instead of a generic 500 (or the 400 Django
gives when the session cannot be saved).

Views' errors are caught by the middleware; errors raised outside the view (saving the
session after it) reach Django's error handlers, wrapped here in `server_error` and
`bad_request` (config/urls.py)."""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger(__name__)

MESSAGE = ("The booking system is briefly unavailable. Nothing was saved half-way: please "
           "try again in a moment.")
RETRY_AFTER_SECONDS = 5


def database_error(exception: BaseException | None) -> BaseException | None:
    """The database error behind `exception` (itself, or what it was raised from)."""
    seen = set()
    while exception is not None and id(exception) not in seen:
        if isinstance(exception, OperationalError | InterfaceError):
            return exception
        seen.add(id(exception))
        exception = exception.__cause__ or exception.__context__
    return None


def unavailable(request, error: BaseException) -> HttpResponse:
    logger.warning("Database unavailable for %s %s: %s", request.method, request.path, error)
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": {"code": "unavailable", "message": MESSAGE,
                                           "fields": {}}}, status=503)
    else:
        # No request context: its processors (the signed-in user) need the database.
        response = HttpResponse(render_to_string("503.html", {"message": MESSAGE}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        error = database_error(exception)
        return unavailable(request, error) if error is not None else None


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: Django calls it while handling the exception, so it is in exc_info."""
    error = database_error(sys.exc_info()[1])
    if error is not None:
        return unavailable(request, error)
    return defaults.server_error(request, template_name)


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    """handler400: the session could not be saved because the database went away."""
    error = database_error(exception)
    if error is not None:
        return unavailable(request, error)
    return defaults.bad_request(request, exception, template_name)
