import pytest

from apps.bookings.cancellation import booking_cancel, session_cancel
from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.refunds.models import Refund
from apps.sessions.models import CourseSession
from tests.factories import make_booking
from tests.refunds.conftest import pay_by_card, stripe_refunds

pytestmark = pytest.mark.django_db


def test_session_cancellation_refunds_every_paid_booking_once_even_run_twice(
        paid_booking, django_capture_on_commit_callbacks):
    booking, payment = paid_booking
    session = booking.session
    second = make_booking(session, email="other@example.com", seats=1)
    second_payment = pay_by_card(second)
    pending = make_booking(session, email="unpaid@example.com", seats=1)

    with django_capture_on_commit_callbacks(execute=True):
        summary = session_cancel(session_id=session.pk, actor=None, reason="Trainer ill")
    with django_capture_on_commit_callbacks(execute=True):
        again = session_cancel(session_id=session.pk, actor=None, reason="Trainer ill")

    assert {key: summary[key] for key in ("bookings", "refunds", "refunded")} == {
        "bookings": 3, "refunds": 2, "refunded": payment.amount + second_payment.amount}
    assert {key: again[key] for key in ("bookings", "refunds", "refunded")} == {
        "bookings": 0, "refunds": 0, "refunded": 0}
    session.refresh_from_db()
    assert session.status == "cancelled" and session.seats_taken == 0
    assert set(Booking.objects.filter(session=session).values_list("status", flat=True)) == {
        "cancelled"}
    assert Refund.objects.count() == 2
    assert set(Refund.objects.values_list("status", flat=True)) == {"succeeded"}
    assert len(stripe_refunds(payment)) == 1 and len(stripe_refunds(second_payment)) == 1
    told = set(Communication.objects.filter(kind="session_cancelled")
               .values_list("recipient", flat=True))
    assert told == {a.email for b in (booking, second, pending) for a in b.attendees.all()}
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 0 and booking.purchaser.total_bookings == 0


def test_cancel_with_a_policy_amount_refunds_only_that(paid_booking,
                                                       django_capture_on_commit_callbacks):
    booking, payment = paid_booking
    with django_capture_on_commit_callbacks(execute=True):
        refunds = booking_cancel(booking_id=booking.pk, reason="Customer cancelled late",
                                 initiator="customer", refund_amount=payment.amount // 2)
    assert [r.amount for r in refunds] == [payment.amount // 2]
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == "cancelled" and payment.status == "partially_refunded"
    assert CourseSession.objects.get(pk=booking.session_id).seats_taken == 0
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == payment.amount // 2
    assert booking.purchaser.total_bookings == 0
