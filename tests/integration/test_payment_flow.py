"""The real payment path, end to end: the Stripe SDK against a real localstripe process,
its signed webhooks arriving at the live server, and a real Celery worker process (on the
real Redis broker) applying them and sending the emails. Only the card form in the browser
is replaced: the ConfirmationToken the Payment Element would hand the page is made with
Stripe's test helper for the same card.
"""

import pytest
import requests
from django.conf import settings

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment, PaymentEvent
from apps.payments.services import payment_pay_card
from apps.users.models import User
from tests.factories import SessionFactory, make_booking
from tests.integration.conftest import wait_for
from tests.payments.helpers import card_token

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
THREE_D_SECURE_CARD = "4000002500003155"
# Stored events are processed by drain tasks (one per slot), each returning how many it took.
PROCESS_TASK = "apps.stripe_sync.tasks.drain_stripe_events_task"
EMAIL_TASK = "apps.core.tasks.send_communication_task"


def confirmations(booking: Booking) -> dict[str, list[str]]:
    sent: dict[str, list[str]] = {}
    for recipient, status in Communication.objects.filter(
        booking=booking, kind=Communication.Kind.BOOKING_CONFIRMATION
    ).values_list("recipient", "status"):
        sent.setdefault(recipient, []).append(status)
    return sent


def wait_confirmations_sent(booking: Booking, hooks) -> dict[str, list[str]]:
    expected = {attendee.email for attendee in booking.attendees.all()}
    expected.add(booking.purchaser.email)

    def all_sent():
        sent = confirmations(booking)
        done = set(sent) == expected and all(
            statuses == [Communication.Status.SENT] for statuses in sent.values())
        return sent if done else None

    return wait_for(all_sent, what=f"a sent confirmation for each of {sorted(expected)}",
                    diagnostics=lambda: f"confirmations: {confirmations(booking)}\n"
                                        f"{hooks.diagnostics()}")


def assert_paid_once(booking: Booking, payment: Payment) -> None:
    booking.refresh_from_db()
    payment.refresh_from_db()
    purchaser = User.objects.get(pk=booking.purchaser_id)
    assert booking.status == Booking.Status.PAID
    assert payment.status == Payment.Status.SUCCEEDED
    assert purchaser.total_spent == booking.total_amount
    assert purchaser.total_bookings == 1
    assert PaymentEvent.objects.filter(payment__booking=booking,
                                       kind="payment.succeeded").count() == 1


def test_good_card_pays_the_booking_and_the_worker_applies_the_webhook(stripe_webhooks):
    hooks = stripe_webhooks
    booking = make_booking(SessionFactory(price=9500), seats=2)
    assert booking.total_amount == 19000

    result = payment_pay_card(booking=booking, confirmation_token=card_token(GOOD_CARD))

    payment = result.payment
    assert payment.status == Payment.Status.SUCCEEDED
    assert result.client_secret == ""
    intent_id = payment.stripe_payment_intent_id
    assert intent_id and intent_id.startswith("pi_")

    # localstripe -> live server -> broker -> worker.
    event = hooks.wait_processed(type="payment_intent.succeeded", object_id=intent_id)
    assert event.attempts == 1 and event.last_error == ""
    assert event.payload["data"]["object"]["metadata"]["payment_id"] == str(payment.pk)
    sent = wait_confirmations_sent(booking, hooks)

    # The webhook repeated what our own answer already applied: counted once, emailed once.
    assert_paid_once(booking, payment)
    assert sent == {"buyer@example.com": ["sent"], "guest1.buyer@example.com": ["sent"]}
    assert payment.card_brand == "visa" and payment.card_last4 == "4242"
    assert Payment.objects.filter(booking=booking).count() == 1
    # And it was the worker that did it (the test process only enqueues now).
    hooks.drain()
    assert any(not line.endswith(": 0")
               for line in hooks.worker_task_results(PROCESS_TASK)), hooks.worker.tail()
    assert len(hooks.worker_task_results(EMAIL_TASK)) == 2, hooks.worker.tail()


def test_declined_card_leaves_the_booking_pending_then_a_good_card_pays_it(stripe_webhooks):
    hooks = stripe_webhooks
    booking = make_booking(SessionFactory(price=9500), seats=2)

    declined = payment_pay_card(booking=booking, confirmation_token=card_token(DECLINED_CARD))

    failed = declined.payment
    assert failed.status == Payment.Status.FAILED
    assert failed.failure_message == "Your card was declined."
    assert declined.client_secret == ""
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING

    # localstripe also sends payment_intent.payment_failed; the worker records it on the
    # failed attempt (found through the intent's metadata) and changes nothing else.
    event = hooks.wait_processed(type="payment_intent.payment_failed",
                                 payload__data__object__metadata__payment_id=str(failed.pk))
    failed.refresh_from_db()
    assert failed.status == Payment.Status.FAILED
    assert failed.stripe_payment_intent_id == event.object_id
    assert PaymentEvent.objects.filter(payment=failed, kind="payment.failed",
                                       stripe_event=event).count() == 1
    booking.refresh_from_db()
    purchaser = User.objects.get(pk=booking.purchaser_id)
    assert booking.status == Booking.Status.PENDING
    assert (purchaser.total_spent, purchaser.total_bookings) == (0, 0)
    assert not Communication.objects.filter(booking=booking,
                                            kind=Communication.Kind.BOOKING_CONFIRMATION).exists()

    # Second attempt with a good card.
    paid = payment_pay_card(booking=booking, confirmation_token=card_token(GOOD_CARD))

    payment = paid.payment
    assert payment.pk != failed.pk
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.attempt == 2
    hooks.wait_processed(type="payment_intent.succeeded",
                         object_id=payment.stripe_payment_intent_id)
    wait_confirmations_sent(booking, hooks)
    assert_paid_once(booking, payment)
    assert list(Payment.objects.filter(booking=booking).order_by("attempt")
                .values_list("attempt", "status")) == [(1, "failed"), (2, "succeeded")]


def test_three_d_secure_card_is_paid_through_the_webhook_and_the_worker(stripe_webhooks):
    hooks = stripe_webhooks
    booking = make_booking(SessionFactory(price=9500), seats=2)

    result = payment_pay_card(booking=booking,
                              confirmation_token=card_token(THREE_D_SECURE_CARD))

    payment = result.payment
    assert payment.status == Payment.Status.REQUIRES_ACTION
    intent_id = payment.stripe_payment_intent_id
    assert result.client_secret.startswith(f"{intent_id}_secret_")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING

    # What stripe.handleNextAction does (in the fake's double) when the customer completes
    # authentication.
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent_id}/_authenticate",
        params={"success": "true"},
        json={"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": result.client_secret},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded"

    # Only the webhook tells us: the worker applies it and pays the booking.
    event = hooks.wait_processed(type="payment_intent.succeeded", object_id=intent_id)
    wait_confirmations_sent(booking, hooks)
    assert_paid_once(booking, payment)
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.succeeded",
                                       stripe_event=event).count() == 1
    assert payment.card_last4 == "3155"
    hooks.drain()
    assert any(not line.endswith(": 0")
               for line in hooks.worker_task_results(PROCESS_TASK)), hooks.worker.tail()
