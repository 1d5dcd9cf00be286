import pytest
from django.test import override_settings

from apps.core.emails import communications_retry_failed
from apps.core.models import Communication
from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db

BROKEN = {"default": {"BACKEND": "tests.faults.failing_mail.BrokenSMTPBackend"}}
WORKING = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def test_failed_emails_are_kept_retried_and_sent_exactly_once(
        django_capture_on_commit_callbacks, mailoutbox):
    booking = make_booking(SessionFactory(), email="a@example.com")
    with override_settings(MAILERS=BROKEN), django_capture_on_commit_callbacks(execute=True):
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
