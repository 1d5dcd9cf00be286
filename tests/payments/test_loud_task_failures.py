"""Tasks retry on real errors and, after the last retry, alert operations once; in tests
an exception inside an eager task reaches the test (CELERY_TASK_EAGER_PROPAGATES)."""

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError

from apps.certificates.tasks import RETRY_ON, issue_certificates_task
from apps.core.models import Communication
from apps.payments import gateway
from apps.payments.holds import cancel_open_intents_task
from apps.payments.models import Payment
from apps.users.models import ActivityLog
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_eager_tasks_propagate_in_tests():
    assert django_settings.CELERY_TASK_EAGER_PROPAGATES is True


@pytest.fixture
def stripe_down(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: connection refused
    settings.STRIPE_MAX_NETWORK_RETRIES = 0


def test_cancelling_open_intents_retries_when_stripe_is_down_then_alerts_once(
        stripe_down, celery_as_a_worker):
    booking = make_booking(SessionFactory(capacity=5))
    payment = Payment.objects.create(booking=booking, user_id=booking.purchaser_id,
                                     amount=booking.total_amount,
                                     stripe_payment_intent_id="pi_open_1")
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.REQUIRES_ACTION)
    # As a worker runs it (eager tasks in tests raise at the first error instead).
    result = cancel_open_intents_task.apply(args=[booking.pk], throw=False)
    assert result.failed() and isinstance(result.result, gateway.PaymentProviderError)
    failed = ActivityLog.objects.get(action="task.failed")
    assert failed.data["task"] == "apps.payments.holds.cancel_open_intents_task"
    assert failed.data["retries"] == cancel_open_intents_task.max_retries
    alert = Communication.objects.get(kind=Communication.Kind.STAFF_ALERT)
    assert alert.recipient == django_settings.OPERATIONS_EMAIL
    assert "cancel_open_intents_task" in alert.subject
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_ACTION  # still open: nothing was lost

    # The same task failing again for the same booking does not email twice.
    assert cancel_open_intents_task.apply(args=[booking.pk], throw=False).failed()
    assert Communication.objects.filter(kind=Communication.Kind.STAFF_ALERT).count() == 1
    assert ActivityLog.objects.filter(action="task.failed").count() == 2


def test_certificate_issuing_retries_on_real_errors_only():
    assert issubclass(OperationalError, RETRY_ON)
    assert issubclass(OSError, RETRY_ON)
    assert issue_certificates_task.max_retries == 5
    assert not issubclass(ValueError, RETRY_ON)  # a bug fails at once, loudly


def test_an_eager_task_that_fails_fails_the_caller_in_tests():
    with pytest.raises(Exception, match="does not exist"):
        issue_certificates_task.delay(999_999_999)


def test_a_task_that_fails_on_a_bug_alerts_at_once(celery_as_a_worker):
    result = issue_certificates_task.apply(args=[999_999_999], throw=False)
    assert result.failed()
    failed = ActivityLog.objects.get(action="task.failed")
    assert failed.data["retries"] == 0
    assert "999999999" in failed.data["arguments"]
    assert Communication.objects.filter(kind=Communication.Kind.STAFF_ALERT).count() == 1
