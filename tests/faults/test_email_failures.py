from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.test import override_settings
from django.utils import timezone

from apps.core.emails import communication_send, communications_retry_failed
from apps.core.models import Communication
from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db

BROKEN = {"default": {"BACKEND": "tests.faults.failing_mail.BrokenSMTPBackend"}}
WORKING = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def test_failed_emails_are_kept_retried_and_sent_exactly_once(
        django_capture_on_commit_callbacks, mailoutbox):
    booking = make_booking(SessionFactory(), email="a@example.com")
    # The eager send task records the failure, then asks Celery to retry (a worker would
    # wait and try again; in tests the retry request reaches the caller).
    with override_settings(MAILERS=BROKEN), pytest.raises(Retry), \
            django_capture_on_commit_callbacks(execute=True):
        payment_record_manual(booking=booking, actor=None)  # sends the confirmation
    failed = Communication.objects.get()
    assert failed.status == "failed" and "Connection unexpectedly closed" in failed.last_error
    assert failed.attempts >= 1 and mailoutbox == []

    with override_settings(MAILERS=WORKING):
        assert communications_retry_failed() == 1
        assert communications_retry_failed() == 0
    failed.refresh_from_db()
    assert failed.status == "sent" and len(mailoutbox) == 1
    assert mailoutbox[0].to == ["a@example.com"] and booking.reference in mailoutbox[0].subject


def test_beat_retries_failed_emails(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "apps.core.tasks.retry_failed_emails_task" in tasks


def test_email_whose_task_never_reached_the_broker_is_sent_once_by_the_retry(
        django_capture_on_commit_callbacks, mailoutbox):
    """The process died after committing the confirmation but before its on-commit hook
    published the send task: the callbacks are captured and never run."""
    booking = make_booking(SessionFactory(), email="b@example.com")
    with django_capture_on_commit_callbacks(execute=False):
        payment_record_manual(booking=booking, actor=None)
    stranded = Communication.objects.get()
    assert stranded.status == "queued" and mailoutbox == []

    assert communications_retry_failed() == 0  # recent: its own task may still be coming
    Communication.objects.filter(pk=stranded.pk).update(
        created_at=timezone.now() - timedelta(minutes=11))
    assert communications_retry_failed() == 1
    assert communications_retry_failed() == 0
    stranded.refresh_from_db()
    assert stranded.status == "sent" and len(mailoutbox) == 1
    # The original task arriving late sends nothing more.
    assert communication_send(communication_id=stranded.pk) is False
    assert len(mailoutbox) == 1
