from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.errors import DomainError
from apps.core.models import Communication
from apps.payments.services import payment_record_manual
from apps.refunds.cancellation import (
    booking_cancel,
    booking_cancel_by_customer,
    booking_cancellation_quote,
    session_cancel,
)
from apps.refunds.models import Refund
from apps.sessions.models import CourseSession
from tests.bookings.test_concurrency import run_in_threads
from tests.factories import SessionFactory, make_booking
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


# --- the customer's cancellation: one service, the quote computed under the lock ---------

def _paid_by_invoice(start, *, email="pat@example.com"):
    """A two-seat booking (2 x £50) paid by invoice (refunds complete at once)."""
    booking = make_booking(SessionFactory(price=5000, starts_at=start), email=email, seats=2,
                           now=start - timedelta(days=40))
    payment_record_manual(booking=booking, actor=None, now=start - timedelta(days=40))
    booking.refresh_from_db()
    return booking


def test_the_customer_cancellation_refunds_exactly_the_policy_quote():
    booking = _paid_by_invoice(timezone.now() + timedelta(days=10))
    quote = booking_cancellation_quote(booking=booking)
    assert 0 < quote.amount < 10000  # a partial refund by the policy, not the whole payment

    refunds = booking_cancel_by_customer(booking=booking, actor=booking.purchaser)

    assert [refund.amount for refund in refunds] == [quote.amount]
    assert {refund.initiator for refund in refunds} == {Refund.Initiator.CUSTOMER}
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CANCELLED


def test_a_start_moved_between_the_quote_and_the_cancel_is_refused_and_nothing_refunded():
    """The page showed a quote for a course still to come; staff then moved the session to
    a start that has passed. The service reads the start under the lock, not the page's
    (or the caller's) copy: refused, nothing cancelled, nothing refunded."""
    booking = _paid_by_invoice(timezone.now() + timedelta(days=10))
    assert booking_cancellation_quote(booking=booking).amount > 0  # what the page showed
    CourseSession.objects.filter(pk=booking.session_id).update(
        starts_at=timezone.now() - timedelta(hours=1))

    with pytest.raises(DomainError, match="has started") as refused:
        booking_cancel_by_customer(booking=booking, actor=booking.purchaser)  # a stale copy

    assert refused.value.code == "started"
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.PAID
    assert not Refund.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_double_submitted_customer_cancellation_refunds_once():
    booking = _paid_by_invoice(timezone.now() + timedelta(days=10))
    quote = booking_cancellation_quote(booking=booking)

    results = run_in_threads(2, lambda i: [r.pk for r in booking_cancel_by_customer(
        booking=Booking.objects.get(pk=booking.pk), actor=booking.purchaser)])

    assert [outcome for outcome, _ in results] == ["ok", "ok"]
    assert sorted(len(refund_ids) for _, refund_ids in results) == [0, 1]  # one did it
    refunds = Refund.objects.filter(payment__booking=booking)
    assert [refund.amount for refund in refunds] == [quote.amount]
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CANCELLED
