"""Refund events from Stripe, built and signed here (the local fake emits none)."""

import time
import uuid

import pytest

from apps.bookings.models import Booking
from apps.payments import gateway
from apps.payments.models import StripeEvent
from apps.refunds.models import Refund
from apps.refunds.services import refund_create, refund_submit
from tests.payments.helpers import deliver
from tests.refunds.conftest import stripe_refunds

pytestmark = pytest.mark.django_db


def refund_event(refund, *, type="refund.updated", event_id=None):
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": type,
            "created": int(time.time()), "data": {"object": refund}}


def stripe_refund(payment, *, id=None, amount=2000, status="succeeded", refund_id=None,
                  failure_reason=None):
    return {"id": id or f"re_{uuid.uuid4().hex[:14]}", "object": "refund", "amount": amount,
            "currency": "gbp", "status": status,
            "payment_intent": payment.stripe_payment_intent_id,
            "metadata": {"refund_id": str(refund_id)} if refund_id else {},
            "failure_reason": failure_reason}


def test_success_webhook_arriving_before_our_own_call_returns(client, paid_booking):
    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=2000, initiator="staff")  # not sent yet
    # Stripe's webhook is faster than our own call's answer:
    deliver(client, refund_event(stripe_refund(payment, id="re_fast", refund_id=refund.pk)))
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.stripe_refund_id == "re_fast"
    # ...and the task that runs afterwards does not refund a second time.
    refund_submit(refund_id=refund.pk)
    assert stripe_refunds(payment) == []
    payment.user.refresh_from_db()
    assert payment.user.total_spent == payment.amount - 2000


def test_duplicate_refund_events_count_the_money_once(client, paid_booking):
    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=2000, initiator="staff")
    event = refund_event(stripe_refund(payment, id="re_dup", refund_id=refund.pk))
    deliver(client, event)
    assert deliver(client, event).json()["duplicate"] is True
    deliver(client, refund_event(stripe_refund(payment, id="re_dup", refund_id=refund.pk),
                                 type="refund.created"))
    payment.user.refresh_from_db()
    assert payment.user.total_spent == payment.amount - 2000
    assert payment.events.filter(kind="refund.succeeded").count() == 1


def test_a_refund_made_in_the_stripe_dashboard_appears_here(client, paid_booking):
    booking, payment = paid_booking
    deliver(client, refund_event(stripe_refund(payment, id="re_dash", amount=payment.amount),
                                 type="refund.created"))
    refund = Refund.objects.get(stripe_refund_id="re_dash")
    assert refund.initiator == "stripe" and refund.status == "succeeded"
    assert refund.amount == payment.amount
    payment.refresh_from_db()
    assert payment.status == "refunded"
    assert Booking.objects.get(pk=booking.pk).status == "refunded"
    payment.user.refresh_from_db()
    assert payment.user.total_spent == 0


def test_charge_refunded_fetches_the_refunds_from_stripe(client, paid_booking):
    _, payment = paid_booking
    # Someone refunds £15 in the Stripe dashboard; Stripe tells us only "charge.refunded".
    made = gateway.client().v1.refunds.create(params={
        "payment_intent": payment.stripe_payment_intent_id, "amount": 1500})
    intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    charge = intent["latest_charge"]
    charge = charge if isinstance(charge, dict) else {"id": charge}
    deliver(client, refund_event({**charge, "object": "charge", "refunded": False,
                                  "payment_intent": payment.stripe_payment_intent_id},
                                 type="charge.refunded"))
    refund = Refund.objects.get(stripe_refund_id=made.id)
    assert refund.amount == 1500 and refund.status == "succeeded"
    assert StripeEvent.objects.get().status == "processed"


def test_a_refund_that_fails_after_succeeding_restores_the_totals(client, paid_booking):
    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=3000, initiator="staff")
    deliver(client, refund_event(stripe_refund(payment, id="re_x", amount=3000,
                                               refund_id=refund.pk)))
    deliver(client, refund_event(stripe_refund(payment, id="re_x", amount=3000,
                                               refund_id=refund.pk, status="failed",
                                               failure_reason="lost_or_stolen_card"),
                                 type="refund.failed"))
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == "failed" and refund.failure_reason == "lost_or_stolen_card"
    assert payment.status == "succeeded"
    payment.user.refresh_from_db()
    assert payment.user.total_spent == payment.amount
    assert payment.events.filter(kind__startswith="refund.").count() >= 3


def test_refund_event_for_a_payment_we_do_not_know_is_parked(client, db):
    deliver(client, refund_event({"id": "re_alien", "object": "refund", "amount": 100,
                                  "status": "succeeded", "payment_intent": "pi_alien",
                                  "metadata": {}}))
    stored = StripeEvent.objects.get()
    assert stored.status == "parked" and "pi_alien" in stored.last_error


def test_a_dashboard_refund_fails_our_unsent_refund_that_no_longer_fits(client, paid_booking):
    """Found by the money state machine: our refund recorded but not yet sent, then a
    refund made in Stripe's dashboard meanwhile, promised more back than was paid. Stripe
    refuses a refund beyond the charge, so ours fails at once and the ledger fits."""
    _, payment = paid_booking  # £100
    ours = refund_create(payment=payment, amount=payment.amount, initiator="staff")  # unsent
    deliver(client, refund_event(stripe_refund(payment, id="re_dash_first", amount=7500),
                                 type="refund.created"))
    ours.refresh_from_db()
    assert ours.status == "failed"
    assert "already refunded £75.00 from its dashboard" in ours.failure_reason
    not_failed = sum(r.amount for r in payment.refunds.exclude(status="failed"))
    assert not_failed == 7500 <= payment.amount
    # The task that would have sent ours finds nothing left to do at Stripe.
    refund_submit(refund_id=ours.pk)
    assert [r["id"] for r in stripe_refunds(payment)] == []
    payment.user.refresh_from_db()
    assert payment.user.total_spent == payment.amount - 7500


def test_a_dashboard_refund_that_fits_leaves_our_pending_refund_alone(client, paid_booking):
    _, payment = paid_booking  # £100
    ours = refund_create(payment=payment, amount=2000, initiator="staff")
    deliver(client, refund_event(stripe_refund(payment, id="re_dash_fits", amount=5000),
                                 type="refund.created"))
    ours.refresh_from_db()
    assert ours.status == "pending"
