"""What happens when a Celery task has failed for good (its last retry, or a task that
does not retry): one place for every task. The failure is logged with its traceback (the
Sentry integration, apps/core/error_reporting.py, reports it when SENTRY_DSN is set), kept
in the activity log, and operations are emailed once per task and arguments."""

import logging

from django.conf import settings
from django.db import transaction

from apps.core.emails import communication_queue
from apps.core.models import Communication
from apps.users.audit import log_action

logger = logging.getLogger("apps.tasks")


def task_gave_up(*, task_name: str, task_id: str, args, kwargs, error: BaseException,
                 retries: int) -> None:
    description = f"{type(error).__name__}: {error}"[:1000]
    logger.error("Task %s[%s] gave up after %s retries: %s", task_name, task_id, retries,
                 description, exc_info=(type(error), error, error.__traceback__))
    arguments = ", ".join([*map(repr, args or ()),
                           *(f"{k}={v!r}" for k, v in (kwargs or {}).items())])[:500]
    try:
        with transaction.atomic():
            log_action("task.failed", data={"task": task_name, "task_id": task_id,
                                            "arguments": arguments, "retries": retries,
                                            "error": description})
            communication_queue(
                kind=Communication.Kind.STAFF_ALERT, recipient=settings.OPERATIONS_EMAIL,
                template="emails/task_failed.txt",
                context={"task": task_name, "task_id": task_id, "arguments": arguments,
                         "retries": retries, "error": description},
                dedupe_key=f"task-failed:{task_name}({arguments})"[:120],
            )
    except Exception:  # the database may be what failed: the log line above stays
        logger.exception("Could not record the failure of task %s[%s]", task_name, task_id)
