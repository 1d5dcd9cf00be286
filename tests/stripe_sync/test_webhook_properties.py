"""/webhooks/stripe/ under any delivery (Hypothesis): bytes or JSON, signed with the
webhook secret or not, known or unknown event types, intents we have never seen, objects
of the wrong shape. Never a 500; a bad signature is a 400 that stores nothing; a signed
delivery is a 400 that stores nothing or is stored and then processed (the Celery task
runs eagerly in tests, retries included) until it ends processed or parked with its error
for staff, never left pending."""

import json
import time

import pytest
import stripe
from django.conf import settings
from django.test import Client
from hypothesis import event, given
from hypothesis import strategies as st

from apps.payments.models import Payment, StripeEvent
from tests.factories import SessionFactory, make_booking
from tests.properties import PROPERTY_SETTINGS, any_text, around_limits, example_rolled_back

pytestmark = pytest.mark.django_db
KNOWN_INTENT = "pi_known_1"
URL = "/webhooks/stripe/"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
intent_ids = st.one_of(st.just(KNOWN_INTENT), st.from_regex(r"pi_[a-z0-9]{6}", fullmatch=True))
event_types = st.sampled_from([
    "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
    "payment_intent.processing", "payment_intent.requires_action", "refund.created",
    "refund.updated", "refund.failed", "charge.refund.updated", "charge.refunded",
    "customer.created", "invoice.paid",
])


def maybe(valid, *weird):
    return st.one_of(valid, valid, *weird)


stripe_object = st.fixed_dictionaries(
    {
        "id": maybe(intent_ids, st.from_regex(r"(re|ch)_[a-z0-9]{6}", fullmatch=True),
                    json_values, around_limits),
        "object": maybe(st.sampled_from(["payment_intent", "refund", "charge"]), json_values),
        "amount": maybe(st.integers(min_value=0, max_value=10**6), json_values),
        "currency": maybe(st.just("gbp"), json_values),
        "status": maybe(st.sampled_from(["succeeded", "requires_payment_method", "canceled",
                                         "processing", "requires_action", "pending",
                                         "failed"]), json_values),
    },
    optional={
        "amount_received": maybe(st.integers(min_value=0, max_value=10**6), json_values),
        "metadata": maybe(st.fixed_dictionaries({"payment_id": st.one_of(
            st.integers(min_value=1, max_value=5).map(str), json_values)}), json_values),
        "payment_intent": maybe(intent_ids, json_values),
        "last_payment_error": maybe(st.none(), st.fixed_dictionaries(
            {"message": any_text}), json_values),
        "failure_reason": json_values,
    },
)

event_body = st.fixed_dictionaries(
    {
        "id": maybe(st.from_regex(r"evt_[a-z0-9]{10}", fullmatch=True), json_values,
                    around_limits),
        "object": maybe(st.just("event"), json_values),
        "type": maybe(event_types, any_text, around_limits),
        "created": maybe(st.integers(min_value=1_500_000_000, max_value=2_000_000_000),
                         st.integers(), json_values),
        "data": maybe(st.fixed_dictionaries({"object": stripe_object}), json_values),
    },
)

# An event Stripe could have sent, about an object of any shape: what the processor gets.
well_formed_event = st.fixed_dictionaries({
    "id": st.from_regex(r"evt_[a-z0-9]{10}", fullmatch=True),
    "object": st.just("event"),
    "type": st.one_of(event_types, event_types, st.text(min_size=1, max_size=100)),
    "created": st.integers(min_value=1_500_000_000, max_value=2_000_000_000),
    "data": st.fixed_dictionaries({"object": stripe_object}),
})

payloads = st.one_of(
    well_formed_event.map(json.dumps),
    well_formed_event.map(json.dumps),
    well_formed_event.map(json.dumps),
    event_body.map(json.dumps),
    event_body.map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=200).map(lambda raw: raw.decode("utf-8", errors="surrogateescape")),
    st.text(max_size=200),
)
signatures = st.sampled_from(["good", "good", "good", "none", "wrong secret", "stale",
                              "garbage", "tampered"])


def sign(payload: str, how: str) -> str | None:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if how == "none":
        return None
    if how == "garbage":
        return "t=abc,v1=zz"
    if how == "wrong secret":
        secret = "whsec_someone_else"  # pragma: allowlist secret
    timestamp = int(time.time()) - (3600 if how == "stale" else 0)
    # Bodies that are not UTF-8 are signed as Stripe would see their text (and refused).
    text = payload.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    return stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=timestamp)


@pytest.fixture
def payment(db):
    booking = make_booking(SessionFactory(price=9500), seats=1)
    return Payment.objects.create(booking=booking, user=booking.purchaser, amount=9500,
                                  currency="GBP", stripe_payment_intent_id=KNOWN_INTENT)


@given(payload=payloads, how=signatures)
@PROPERTY_SETTINGS
def test_any_delivery_is_rejected_cleanly_or_stored_and_settled(payment, payload, how):
    body = payload.encode("utf-8", errors="surrogateescape")
    signature = sign(payload, how)
    if how == "tampered":
        body = body + b" "
    headers = {"Stripe-Signature": signature} if signature else {}
    with example_rolled_back():
        before = set(StripeEvent.objects.values_list("pk", flat=True))
        response = Client().post(URL, data=body, content_type="application/json",
                                 headers=headers)
        stored = StripeEvent.objects.exclude(pk__in=before)
        event(f"{'signed' if how == 'good' else 'unsigned'} -> {response.status_code}")

        assert response.status_code in (200, 400), response.content
        if how != "good" or response.status_code == 400:
            assert response.status_code == 400
            assert response.json()["error"]["message"]
            assert not stored.exists(), "a rejected delivery was stored"
            return
        assert response.json()["received"] is True
        row = stored.get()
        event(f"stored event {row.status}")
        assert row.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.PARKED)
        if row.status == StripeEvent.Status.PARKED:
            assert row.last_error
        payment.refresh_from_db()
        assert payment.status in Payment.Status.values


# Regressions the property above found (each was a 500, or an event retried for nothing).

def post_signed(payload: str):
    return Client().post(URL, data=payload, content_type="application/json",
                         headers={"Stripe-Signature": sign(payload, "good")})


@pytest.mark.parametrize("payload", [
    "[1, 2]", "true", '{"object": "event"}', '{"id": 5, "type": "x", "data": {"object": {}}}',
    '{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": NaN}}}',
    '{"id": "evt_1", "type": "charge.refunded", "created": {}, "data": {"object": {}}}',
    '{"id": "evt_1", "type": "' + "t" * 101 + '", "data": {"object": {}}}',
])
def test_signed_bodies_that_are_not_events_are_a_400_and_stored_nowhere(db, payload):
    response = post_signed(payload)
    assert response.status_code == 400
    assert "not" in response.json()["error"]["message"]
    assert not StripeEvent.objects.exists()


def test_a_nul_character_does_not_lose_the_event(payment):
    payload = json.dumps({"id": "evt_nul", "object": "event", "type": "customer.created",
                          "data": {"object": {"id": "cus_1", "name": "A\u0000B"}}})
    assert post_signed(payload).status_code == 200
    stored = StripeEvent.objects.get(stripe_id="evt_nul")
    assert stored.payload["data"]["object"]["name"] == "A\ufffdB"
    assert stored.status == StripeEvent.Status.PROCESSED


def test_a_malformed_object_is_parked_at_once_with_the_reason(payment):
    payload = json.dumps({"id": "evt_bad", "object": "event", "type": "payment_intent.succeeded",
                          "data": {"object": {"id": KNOWN_INTENT, "metadata": [],
                                              "amount": "9500"}}})
    assert post_signed(payload).status_code == 200
    stored = StripeEvent.objects.get(stripe_id="evt_bad")
    assert stored.status == StripeEvent.Status.PARKED and stored.attempts == 1
    assert "metadata is not an object" in stored.last_error
    assert "amount is not a whole number" in stored.last_error
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT
