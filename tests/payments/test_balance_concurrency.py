"""Paying a balance from two places at once, on PostgreSQL with real threads: one
PaymentIntent, one payment, the balance paid exactly once."""

import pytest
from django.db import connection

from apps.core.errors import ConflictError
from apps.core.models import Communication
from apps.payments import gateway
from apps.payments.balance import _balance_attempt, payment_pay_balance
from apps.payments.models import Payment, PaymentEvent
from apps.payments.selectors import booking_balance_due
from apps.payments.services import payment_apply_intent
from tests.bookings.test_concurrency import run_in_threads
from tests.payments.helpers import card_token
from tests.payments.test_balance import owing_booking

pytestmark = pytest.mark.django_db(transaction=True)


def balance_intents(booking) -> list[dict]:
    """The PaymentIntents Stripe (the fake) holds for this booking's balance."""
    page = gateway.client().v1.payment_intents.list(params={"limit": 100})
    intents = [intent.to_dict() for intent in page.auto_paging_iter()]
    return [intent for intent in intents
            if (intent.get("metadata") or {}).get("booking_reference") == booking.reference
            and (intent.get("metadata") or {}).get("purpose") == "balance"]


def test_two_simultaneous_pay_balance_requests_make_one_intent(fake_stripe):
    assert connection.vendor == "postgresql"
    booking = owing_booking()
    tokens = [card_token("4242424242424242") for _ in range(2)]

    results = run_in_threads(2, lambda i: payment_pay_balance(booking=booking,
                                                              confirmation_token=tokens[i]))

    outcomes = sorted(outcome for outcome, _ in results)
    assert outcomes == ["error", "ok"], results
    error = next(value for outcome, value in results if outcome == "error")
    # The loser either saw the attempt in flight or, a moment later, nothing owed.
    assert isinstance(error, ConflictError)
    assert error.code in ("payment_in_progress", "nothing_owed")
    assert len(balance_intents(booking)) == 1
    balance = Payment.objects.filter(booking=booking, purpose=Payment.Purpose.BALANCE)
    assert balance.count() == 1 and balance.get().status == Payment.Status.SUCCEEDED
    assert booking_balance_due(booking=booking) == 0


def test_the_success_applied_twice_at_once_counts_once(fake_stripe):
    """Our own answer and the webhook (or two webhook deliveries) applying the same
    succeeded intent together: one success, one receipt."""
    booking = owing_booking()
    payment, _ = _balance_attempt(booking_id=booking.pk, confirmation_token="ctoken_t",
                                  now=booking.created_at)
    intent = {"id": "pi_race_1", "status": "succeeded", "amount": 2000,
              "amount_received": 2000, "metadata": {"payment_id": str(payment.pk)}}

    results = run_in_threads(2, lambda i: payment_apply_intent(intent=dict(intent)).pk)

    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.succeeded").count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.balance_paid").count() == 1
    assert Communication.objects.filter(booking=booking,
                                        kind=Communication.Kind.PAYMENT_RECEIVED).count() == 1
    assert booking_balance_due(booking=booking) == 0
