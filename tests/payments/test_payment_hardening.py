"""Card payments against card testing and for the people reading Stripe: rate limits on
both payment steps, the booking released after repeated declines, and what Stripe is told
about each charge."""

import pytest

from apps.bookings.models import Booking
from apps.payments import gateway
from apps.payments.models import Payment
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import card_token, pay

pytestmark = pytest.mark.django_db

GOOD, DECLINED = "4242424242424242", "4000000000000341"


@pytest.fixture
def booking(client):
    booking = make_booking(SessionFactory(price=9500, capacity=5,
                                          course__title="Forklift Refresher"),
                           email="payer@example.com", seats=2)
    client.force_login(booking.purchaser)
    return booking


def test_stripe_is_told_what_the_charge_is_for(client, booking, fake_stripe):
    assert pay(client, booking, card_token(GOOD)).json()["status"] == "succeeded"

    payment = Payment.objects.get(booking=booking)
    intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    assert intent["metadata"]["booking_reference"] == booking.reference
    assert intent["metadata"]["session_id"] == str(booking.session_id)
    assert intent["metadata"]["course"] == "Forklift Refresher"
    assert intent["description"].startswith("Forklift Refresher — ")
    assert intent["description"].endswith(f"— 2 seats — {booking.reference}")
    assert intent["statement_descriptor_suffix"] == booking.reference


def test_repeated_declines_release_the_seats_and_the_booking_must_start_again(
        client, booking, fake_stripe, settings):
    settings.PAYMENT_MAX_DECLINES = 3
    session = booking.session

    for _ in range(2):
        body = pay(client, booking, card_token(DECLINED)).json()
        assert body["status"] == "failed" and "released" not in body
    session.refresh_from_db()
    assert session.seats_taken == 2

    third = pay(client, booking, card_token(DECLINED)).json()

    assert third["status"] == "failed" and third["released"] is True
    assert "After 3 declined cards the seats have been released" in third["message"]
    booking.refresh_from_db()
    session.refresh_from_db()
    assert booking.status == Booking.Status.EXPIRED
    assert session.seats_taken == 0
    again = pay(client, booking, card_token(GOOD))
    assert again.status_code == 409
    assert Payment.objects.filter(booking=booking, status="succeeded").count() == 0


def test_payments_are_rate_limited_per_booking(client, booking, settings):
    settings.PAYMENT_RATE_LIMIT_PER_BOOKING = "3/h"
    url = f"/bookings/{booking.reference}/pay/"
    # A paid-or-bad request still counts: card testers do not send good requests.
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.PAID)
    statuses = [client.post(url).status_code for _ in range(4)]

    assert statuses[:3] != [429, 429, 429] and 429 not in statuses[:3]
    assert statuses[3] == 429
    error = client.post(url).json()["error"]
    assert error["code"] == "throttled"
    assert "Too many payment attempts" in error["message"]


def test_payments_are_rate_limited_per_client(client, settings):
    settings.PAYMENT_RATE_LIMIT_PER_CLIENT = "2/h"
    bookings = [make_booking(SessionFactory(price=9500), email="tester@example.com")
                for _ in range(3)]
    client.force_login(bookings[0].purchaser)
    for other in bookings[1:]:
        Booking.objects.filter(pk=other.pk).update(purchaser=bookings[0].purchaser)

    statuses = [client.post(f"/bookings/{b.reference}/pay/").status_code for b in bookings]

    assert statuses[2] == 429 and 429 not in statuses[:2]


def test_stripe_waits_must_end_inside_the_web_timeout(settings):
    from django.core.checks import run_checks

    settings.STRIPE_MAX_NETWORK_RETRIES, settings.STRIPE_TIMEOUT_SECONDS = 1, 8
    settings.WEB_TIMEOUT_SECONDS = 30
    assert not [m for m in run_checks() if m.id == "payments.W001"]

    settings.STRIPE_MAX_NETWORK_RETRIES, settings.STRIPE_TIMEOUT_SECONDS = 2, 10
    warnings = [m for m in run_checks() if m.id == "payments.W001"]
    assert len(warnings) == 1
    assert "up to 34 s" in warnings[0].msg
