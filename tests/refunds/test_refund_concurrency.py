"""Refunds racing on PostgreSQL: threads with their own connections against one payment."""

import pytest

from apps.core.errors import DomainError
from apps.payments.models import Payment
from apps.refunds.models import Refund
from apps.refunds.services import refund_create, refund_submit
from tests.bookings.test_concurrency import run_in_threads
from tests.refunds.conftest import stripe_refunds

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_threads_refunding_thirty_percent_never_exceed_the_payment(paid_booking):
    booking, payment = paid_booking  # £100.00
    thirty_percent = payment.amount * 30 // 100

    results = run_in_threads(20, lambda i: refund_create(
        payment=Payment.objects.get(pk=payment.pk), amount=thirty_percent,
        initiator="staff", reason=f"racer {i}").pk)

    won = [value for outcome, value in results if outcome == "ok"]
    lost = [value for outcome, value in results if outcome == "error"]
    assert len(won) == 3
    assert all(isinstance(error, DomainError) and "At most" in error.message for error in lost)
    refunds = Refund.objects.filter(payment=payment)
    assert sum(refund.amount for refund in refunds) == 3 * thirty_percent <= payment.amount
    # each committed refund was submitted once (eager task after commit), and only those
    assert sorted(r["amount"] for r in stripe_refunds(payment)) == [thirty_percent] * 3
    assert set(refunds.values_list("status", flat=True)) == {"succeeded"}
    payment.user.refresh_from_db()
    assert payment.user.total_spent == payment.amount - 3 * thirty_percent


def test_the_same_refund_submitted_by_racing_workers_reaches_stripe_once(paid_booking):
    _, payment = paid_booking
    refund = Refund.objects.create(payment=payment, amount=1000, currency="GBP",
                                   initiator="staff")  # recorded, not yet submitted
    run_in_threads(8, lambda i: refund_submit(refund_id=refund.pk).status)
    assert len(stripe_refunds(payment)) == 1
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    payment.user.refresh_from_db()
    assert payment.user.total_spent == payment.amount - 1000
