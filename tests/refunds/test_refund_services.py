import pytest

from apps.bookings.models import Booking
from apps.core.errors import DomainError
from apps.core.models import Communication
from apps.refunds.models import Refund
from apps.refunds.services import refund_create, refund_submit, refundable_amount
from apps.sessions.models import CourseSession
from tests.refunds.conftest import stripe_refunds

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("amount", "message"), [
    (0, "positive amount"),
    (-100, "positive amount"),
    (10001, "At most £100.00 can still be refunded"),
])
def test_amount_validation_has_a_clear_message(paid_booking, amount, message):
    _, payment = paid_booking
    with pytest.raises(DomainError) as error:
        refund_create(payment=payment, amount=amount, initiator="staff")
    assert message in error.value.message
    assert not Refund.objects.exists()


def test_exactly_the_refundable_amount_is_allowed_and_then_nothing_more(
        paid_booking, django_capture_on_commit_callbacks):
    booking, payment = paid_booking
    with django_capture_on_commit_callbacks(execute=True):
        refund_create(payment=payment, amount=3000, initiator="staff", reason="Partly")
    assert refundable_amount(payment) == 7000
    with django_capture_on_commit_callbacks(execute=True):
        refund_create(payment=payment, amount=7000, initiator="staff", reason="The rest")
    with pytest.raises(DomainError, match="At most £0.00"):
        refund_create(payment=payment, amount=1, initiator="staff")
    assert sorted(r["amount"] for r in stripe_refunds(payment)) == [3000, 7000]


def test_partial_then_full_refund_moves_money_totals_and_seats(
        paid_booking, django_capture_on_commit_callbacks, mailoutbox):
    booking, payment = paid_booking
    purchaser = booking.purchaser
    purchaser.refresh_from_db()
    assert (purchaser.total_spent, purchaser.total_bookings) == (10000, 1)

    with django_capture_on_commit_callbacks(execute=True):
        partial = refund_create(payment=payment, amount=2500, initiator="staff", reason="Goodwill")
    partial.refresh_from_db()
    payment.refresh_from_db()
    purchaser.refresh_from_db()
    assert partial.status == "succeeded" and partial.stripe_refund_id.startswith("re_")
    assert payment.status == "partially_refunded"
    assert purchaser.total_spent == 7500 and purchaser.total_bookings == 1
    assert Booking.objects.get(pk=booking.pk).status == "paid"
    assert CourseSession.objects.get(pk=booking.session_id).seats_taken == 2

    with django_capture_on_commit_callbacks(execute=True):
        refund_create(payment=payment, amount=7500, initiator="staff", reason="Cancelled")
    payment.refresh_from_db()
    purchaser.refresh_from_db()
    assert payment.status == "refunded"
    assert purchaser.total_spent == 0 and purchaser.total_bookings == 0
    assert Booking.objects.get(pk=booking.pk).status == "refunded"
    assert CourseSession.objects.get(pk=booking.session_id).seats_taken == 0
    kinds = list(payment.events.values_list("kind", flat=True))
    assert kinds.count("refund.succeeded") == 2
    emails = Communication.objects.filter(kind="refund_issued")
    assert emails.count() == 2
    assert any("£25.00" in m.subject for m in mailoutbox)


def test_the_refund_task_running_twice_creates_one_stripe_refund(paid_booking):
    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=4000, initiator="staff")  # task not run yet
    refund_submit(refund_id=refund.pk)
    refund_submit(refund_id=refund.pk)
    assert len(stripe_refunds(payment)) == 1
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    payment.user.refresh_from_db()
    assert payment.user.total_spent == 6000


def test_invoice_payments_are_refunded_without_stripe(db):
    from apps.payments.services import payment_record_manual
    from tests.factories import SessionFactory, make_booking

    booking = make_booking(SessionFactory(price=5000))
    payment = payment_record_manual(booking=booking, actor=None)
    refund = refund_create(payment=payment, amount=5000, initiator="staff", reason="By bank")
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.stripe_refund_id is None
    assert Booking.objects.get(pk=booking.pk).status == "refunded"


def test_a_failed_refund_can_be_retried_by_staff(paid_booking, admin_client,
                                                 django_capture_on_commit_callbacks):
    from apps.refunds.services import refund_mark_failed

    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=2000, initiator="staff", reason="Oops")
    refund_mark_failed(refund_id=refund.pk, reason="expired_or_canceled_card")
    assert refundable_amount(payment) == 10000  # a failed refund does not count
    page = admin_client.get("/admin/refunds/refund/").content.decode()
    assert "expired_or_canceled_card" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/refunds/refund/", {
            "action": "retry_failed", "_selected_action": [refund.pk]}, follow=True)
    assert "1 refund sent again" in response.content.decode()
    retried = Refund.objects.exclude(pk=refund.pk).get()
    assert retried.status == "succeeded" and retried.amount == 2000
    assert len(stripe_refunds(payment)) == 1
