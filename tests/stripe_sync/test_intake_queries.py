"""Webhook intake stays one INSERT whatever else grows, and an event arriving after the
money did changes nothing with a handful of queries (issue #22). Counts, not timings."""

import json

import pytest
import redis
import stripe
from django.conf import settings

from apps.payments.models import Payment, PaymentEvent, StripeEvent
from apps.stripe_sync.webhooks import stripe_event_process, stripe_event_store
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import deliver, intent_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment():
    booking = make_booking(SessionFactory(price=9500), seats=1)
    return Payment.objects.create(booking=booking, user=booking.purchaser, amount=9500,
                                  currency="GBP", stripe_payment_intent_id="pi_q_1")


@pytest.fixture
def queued_not_run():
    """Deliveries are queued on the real broker, as in production, instead of run eagerly;
    the queue is emptied afterwards."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = before
    app.control.purge()


def test_a_new_delivery_is_one_insert_then_queued(client, payment, queued_not_run,
                                                  django_assert_num_queries):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queued_before = broker.llen("celery")
    event = intent_event("pi_q_1", amount=9500)
    with django_assert_num_queries(1):
        response = deliver(client, event)
    assert response.json() == {"received": True, "duplicate": False}
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == "pending" and stored.payload == event
    assert stored.object_id == "pi_q_1" and stored.type == "payment_intent.succeeded"
    assert broker.llen("celery") == queued_before + 1


def test_a_repeat_delivery_is_one_statement_and_queues_nothing(
        client, payment, queued_not_run, django_assert_num_queries):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    event = intent_event("pi_q_1", amount=9500)
    deliver(client, event)
    queued = broker.llen("celery")
    with django_assert_num_queries(1):
        response = deliver(client, event)
    assert response.json() == {"received": True, "duplicate": True}
    assert StripeEvent.objects.filter(stripe_id=event["id"]).count() == 1
    assert broker.llen("celery") == queued


def test_intake_queries_do_not_grow_with_the_events_stored(client, payment, queued_not_run,
                                                           django_assert_num_queries):
    for n in range(30):
        stripe_event_store(intent_event(f"pi_other_{n}"))
    with django_assert_num_queries(1):
        deliver(client, intent_event("pi_q_1", amount=9500))


def test_a_payload_with_a_nul_is_kept_with_the_spot_marked(client, queued_not_run):
    event = intent_event("cus_1", type="customer.created")
    event["data"]["object"]["name"] = "Ada\x00Lovelace"
    assert deliver(client, event).status_code == 200
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.payload["data"]["object"]["name"] == "Ada\ufffdLovelace"
    assert json.dumps(stored.payload).count("\\u0000") == 0


def test_an_event_after_the_money_arrived_is_recorded_with_few_queries(
        payment, django_assert_max_num_queries):
    first = stripe_event_store(intent_event("pi_q_1", amount=9500))
    second = stripe_event_store(intent_event("pi_q_1", amount=9500))
    # The success: the payment is read once and the booking locked once (invoice and
    # confirmation included; its email is sent by a task of its own).
    with django_assert_max_num_queries(37):  # 39 before (issue #22)
        assert stripe_event_process(event_id=first) == "applied"
    # Claim + read the event, find the payment, record the event, the refunds check,
    # mark processed: no BEGIN, no locks.
    with django_assert_max_num_queries(5):
        assert stripe_event_process(event_id=second) == "applied"
    assert stripe_event_process(event_id=second) == "already processed"
    payment.refresh_from_db()
    payment.user.refresh_from_db()
    assert payment.status == "succeeded" and payment.user.total_spent == 9500
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.succeeded").count() == 1
    assert PaymentEvent.objects.filter(payment=payment,
                                       kind="payment.event_after_success").count() == 1
    assert StripeEvent.objects.get(pk=second).attempts == 1


def test_a_number_in_exponent_form_is_kept_as_the_float_stripe_sent(client, payment):
    """Stored as parsed, not as delivered: PostgreSQL would read `1e2` back as the integer
    100, and the shape check (amounts are whole numbers) would let it through."""
    event = intent_event("pi_q_1", amount=9500)
    body = json.dumps(event).replace('"amount": 9500', '"amount": 95e2')
    assert '"amount": 95e2' in body
    header = stripe.WebhookSignature.generate_signature_header(
        body, settings.STRIPE_WEBHOOK_SECRET)
    response = client.post("/webhooks/stripe/", data=body, content_type="application/json",
                           headers={"Stripe-Signature": header})
    assert response.status_code == 200
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.payload["data"]["object"]["amount"] == 9500.0
    assert isinstance(stored.payload["data"]["object"]["amount"], float)
    assert stored.status == "parked" and "amount is not a whole number" in stored.last_error
