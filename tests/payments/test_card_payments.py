"""The card flow against a real (local fake) Stripe, through the same SDK calls as live."""

from unittest import mock

import pytest
from django.db import connection

from apps.bookings.models import Booking
from apps.payments import gateway
from apps.payments.models import Payment
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import card_token, pay

pytestmark = pytest.mark.django_db

GOOD, DECLINED, THREE_D_SECURE = "4242424242424242", "4000000000000341", "4000002500003155"


@pytest.fixture
def booking(client):
    booking = make_booking(SessionFactory(price=9500), email="payer@example.com", seats=2)
    client.force_login(booking.purchaser)
    return booking


def test_paying_makes_a_stripe_customer_and_saves_no_card(client, booking, fake_stripe):
    assert pay(client, booking, card_token(GOOD)).json()["status"] == "succeeded"
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.stripe_customer_id.startswith("cus_")
    intent = gateway.retrieve_payment_intent(
        Payment.objects.get(booking=booking).stripe_payment_intent_id)
    assert intent.get("setup_future_usage") is None  # no card kept without consent


def test_a_good_card_pays_the_booking(client, booking, fake_stripe):
    response = pay(client, booking, card_token(GOOD))
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    payment = Payment.objects.get(booking=booking)
    assert payment.stripe_payment_intent_id.startswith("pi_")
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert payment.amount == 19000
    intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    assert intent["metadata"]["booking_reference"] == booking.reference
    assert intent["amount"] == 19000
    booking.refresh_from_db()
    assert booking.status == "paid"
    page = client.get(f"/bookings/{booking.reference}/").content.decode()
    assert "You're booked!" in page and "ending 4242" in page


def test_a_declined_card_says_so_and_can_be_retried(client, booking, fake_stripe):
    response = pay(client, booking, card_token(DECLINED))
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "failed"
    assert "declined" in body["message"] and "No money was taken" in body["message"]
    booking.refresh_from_db()
    assert booking.status == "pending"
    page = client.get(f"/bookings/{booking.reference}/").content.decode()
    assert "Your last attempt was declined" in page

    retry = pay(client, booking, card_token(GOOD))
    assert retry.json()["status"] == "succeeded"
    assert list(Payment.objects.filter(booking=booking).order_by("attempt")
                .values_list("attempt", "status")) == [(1, "failed"), (2, "succeeded")]


def test_three_d_secure_hands_the_page_a_client_secret(client, booking, fake_stripe):
    body = pay(client, booking, card_token(THREE_D_SECURE)).json()
    assert body["status"] == "requires_action"
    assert body["client_secret"].startswith("pi_")
    booking.refresh_from_db()
    assert booking.status == "pending"
    page = client.get(f"/bookings/{booking.reference}/").content.decode()
    assert 'hx-trigger="every 2s"' in page  # the page waits for the webhook


def test_stripe_down_gives_a_clear_answer_and_the_retry_reuses_the_key(
        client, booking, fake_stripe, settings):
    good_card = card_token(GOOD)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    response = pay(client, booking, good_card)
    assert response.status_code == 503
    assert "not answering" in response.json()["error"]["message"]
    booking.refresh_from_db()
    assert booking.status == "pending"
    assert booking.session.seats_taken == 2
    first_attempt = Payment.objects.get(booking=booking)
    assert first_attempt.status == "requires_payment"

    settings.STRIPE_API_BASE = fake_stripe
    keys = []
    real_create = gateway.create_payment_intent

    def spy(**kwargs):
        keys.append(kwargs["idempotency_key"])
        return real_create(**kwargs)

    with mock.patch.object(gateway, "create_payment_intent", spy):
        assert pay(client, booking, good_card).json()["status"] == "succeeded"
    assert keys == [first_attempt.idempotency_key]
    assert Payment.objects.filter(booking=booking).count() == 1


def test_no_stripe_call_is_made_inside_a_database_transaction(client, booking, fake_stripe):
    """No row lock (seat, booking or payment) is ever held across a call to Stripe."""
    depth_before = len(connection.atomic_blocks)  # the test's own transaction
    depths = []
    real_call = gateway._call

    def watching(fn, *args, **kwargs):
        depths.append(len(connection.atomic_blocks) - depth_before)
        return real_call(fn, *args, **kwargs)

    token = card_token(GOOD)
    with mock.patch.object(gateway, "_call", watching):
        pay(client, booking, token)
    assert len(depths) >= 3  # customer, payment intent, card details
    assert all(depth == 0 for depth in depths), depths
    assert Booking.objects.get(pk=booking.pk).status == "paid"


def test_paying_an_expired_or_paid_booking_is_refused(client, booking, fake_stripe):
    Booking.objects.filter(pk=booking.pk).update(status="paid")
    response = pay(client, booking, card_token(GOOD))
    assert response.status_code == 409
    assert "nothing to pay" in response.json()["error"]["message"]


def test_garbage_payment_method_is_refused_without_calling_stripe(client, booking):
    response = pay(client, booking, "<script>")
    assert response.status_code == 400
    assert "card details did not come through" in response.json()["error"]["message"]
