"""Outgoing email: recorded first as a Communication, sent after commit by Celery."""

import base64
import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template import Context, engines
from django.template.loader import get_template
from django.utils import timezone

from .email_html import email_html
from .models import Communication

logger = logging.getLogger(__name__)


def binary_attachment(*, filename: str, mimetype: str, content: bytes) -> dict:
    return {"filename": filename, "mimetype": mimetype,
            "content_base64": base64.b64encode(content).decode()}


def undeliverable(address: str) -> bool:
    """An address in the reserved `.invalid` domain (RFC 2606), such as the placeholder an
    erased person's records carry: no mail is ever queued, sent or retried to it."""
    domain = address.rpartition("@")[2].lower()
    return domain == "invalid" or domain.endswith(".invalid")


BODY_NOT_KEPT = ("[Not kept: this email carried a sign-in code or a link that signs in or "
                  "sets a password; it was removed once the email had been sent.]\n")

UNDELIVERABLE = Q(recipient__iendswith=".invalid") | Q(recipient__iendswith="@invalid")


LOAD_TAG = re.compile(r"{%\s*load\s[^%]*%}")


def _compiled_email(template: str):
    """The subject's and the body's compiled templates. Compiling is most of the cost of
    rendering an email, so they are kept per process when the template loaders are cached
    (production: a template changes only with a deploy); with DEBUG's reloading loaders
    they are compiled afresh each time, so an edited template shows at once."""
    engine = engines["django"].engine
    cached = _COMPILED.get(template)
    if cached is not None and cached[0] is engine:
        return cached[1], cached[2]
    source = get_template(template).template.source.lstrip()
    subject_source, _, body_source = source.partition("\n")
    loads = "".join(LOAD_TAG.findall(subject_source))
    subject, body = engine.from_string(subject_source), engine.from_string(loads + body_source)
    if not engine.debug:
        _COMPILED[template] = (engine, subject, body)
    return subject, body


_COMPILED: dict = {}


def render_email(template: str, context: dict) -> tuple[str, str]:
    """(subject, body) of a plain-text email template: the subject is its first line, the
    body the rest. Both render with autoescape off (plain text, not HTML: no `&#x27;`), and
    separately, so a newline inside a value (a course title) cannot push the rest of the
    subject into the body; the subject's whitespace is folded to single spaces."""
    subject_template, body_template = _compiled_email(template)
    values = Context({"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL,
                      **context}, autoescape=False)
    subject = subject_template.render(values)
    body = body_template.render(values)
    return " ".join(subject.split()), body.strip() + "\n"


def communication_queue(
    *,
    kind: str,
    recipient: str,
    template: str,
    context: dict,
    user=None,
    user_id: int | None = None,
    booking=None,
    dedupe_key: str = "",
    attachments: list[dict] | None = None,
) -> Communication | None:
    """Record an email and send it once the transaction commits.

    The template renders the subject on its first line and the body after it.
    Returns None when the same (kind, recipient, dedupe_key) was already recorded, or
    when the recipient is undeliverable (an erased person).
    """
    if undeliverable(recipient):
        logger.info("email %s not queued: undeliverable recipient", kind)
        return None
    subject, body = render_email(template, context)
    return communication_record(
        kind=kind, recipient=recipient, subject=subject, body=body, user=user,
        user_id=user_id, booking=booking, dedupe_key=dedupe_key, attachments=attachments)


def communication_record(
    *,
    kind: str,
    recipient: str,
    subject: str,
    body: str,
    user=None,
    user_id: int | None = None,
    booking=None,
    dedupe_key: str = "",
    attachments: list[dict] | None = None,
    carries_secret: bool = False,
) -> Communication | None:
    """Record an email already rendered as plain text (`body`, never HTML-escaped) and send
    it, with its branded HTML part, once the transaction commits. communication_queue
    renders our templates into this; allauth's adapter (apps.users.adapter) renders its own.
    `carries_secret`: the body signs someone in (a code, a reset link); it is kept only until
    the email has been sent.
    """
    if undeliverable(recipient):
        logger.info("email %s not queued: undeliverable recipient", kind)
        return None
    subject = " ".join(subject.split())[:255]
    try:
        with transaction.atomic():
            communication = Communication.objects.create(
                kind=kind,
                recipient=recipient.lower(),
                user_id=user.pk if user is not None else user_id,
                booking=booking,
                subject=subject,
                body=body,
                html_body=email_html(kind=kind, subject=subject, text=body),
                attachments=attachments or [],
                dedupe_key=dedupe_key,
                carries_secret=carries_secret,
            )
    except IntegrityError:
        return None
    from .tasks import send_communication_task  # tasks.py imports this module: load on use

    send_communication_task.delay_on_commit(communication.pk)
    return communication


def communication_send(*, communication_id: int) -> bool:
    """Send one recorded email at most once. Returns True when it was sent now.

    The row is claimed with a conditional UPDATE (queued/failed -> sending) so two
    workers cannot both send it; no lock is held while talking to the mail server.
    """
    claimed = Communication.objects.filter(
        pk=communication_id, status__in=[Communication.Status.QUEUED, Communication.Status.FAILED]
    ).update(status=Communication.Status.SENDING)
    if not claimed:
        return False
    communication = Communication.objects.get(pk=communication_id)
    if undeliverable(communication.recipient):
        Communication.objects.filter(pk=communication_id).update(
            status=Communication.Status.FAILED,
            last_error="Not sent: the recipient's address was erased.")
        return False
    message = EmailMultiAlternatives(
        subject=communication.subject,
        body=communication.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[communication.recipient],
        reply_to=[settings.EMAIL_REPLY_TO],
    )
    if communication.html_body:
        message.attach_alternative(communication.html_body, "text/html")
    for attachment in communication.attachments:
        content = (base64.b64decode(attachment["content_base64"])
                   if "content_base64" in attachment else attachment["content"])
        message.attach(attachment["filename"], content, attachment["mimetype"])
    try:
        message.send()
    except Exception as error:
        Communication.objects.filter(pk=communication_id).update(
            status=Communication.Status.FAILED,
            attempts=communication.attempts + 1,
            last_error=str(error)[:2000],
        )
        logger.warning("email %s failed: %s", communication_id, error)
        raise
    secret_removed = ({"body": BODY_NOT_KEPT, "html_body": ""}
                      if communication.carries_secret else {})
    Communication.objects.filter(pk=communication_id).update(
        status=Communication.Status.SENT,
        attempts=communication.attempts + 1,
        sent_at=timezone.now(),
        last_error="",
        **secret_removed,
    )
    return True


def communications_retry_failed(*, max_attempts: int = 10,
                                stale_after: timedelta = timedelta(minutes=10)) -> int:
    """Send again the emails whose delivery failed (SMTP down, say), and those still queued
    long after they were recorded (the process died between its commit and handing the
    send task to the broker). Each is claimed before sending, so a retry racing the task's
    own retry (or the original task, late) still sends it once."""
    from .tasks import send_communication_task  # tasks.py imports this module: load on use

    failed = Communication.objects.filter(
        Q(status=Communication.Status.FAILED, attempts__lt=max_attempts)
        | Q(status=Communication.Status.QUEUED, created_at__lt=timezone.now() - stale_after)
    ).exclude(UNDELIVERABLE).values_list("pk", flat=True)
    count = 0
    for pk in list(failed):
        send_communication_task.delay(pk)
        count += 1
    return count
