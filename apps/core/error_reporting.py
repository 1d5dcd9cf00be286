"""Optional error reports to Sentry (SENTRY_DSN): imported by settings only when it is set."""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from .request_id import request_id_var


def _tag_request_id(event, hint):
    """Every report carries the request id that is in the logs and the X-Request-ID header
    (or the task's id), so a report and its log lines can be found from each other."""
    request_id = request_id_var.get()
    if request_id != "-":
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def sentry_init(*, dsn: str, environment: str, release: str | None,
                traces_sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,  # no emails, cookies or IP addresses of customers
        traces_sample_rate=traces_sample_rate,  # 0 by default: errors only
        before_send=_tag_request_id,
    )
