"""Idempotency as real Stripe does it: the fake replays a key's first response (see
`fake_stripe`), so a key reused for a new attempt shows up here as it would in production."""

import pytest
import requests

from apps.bookings.models import Booking
from apps.payments.models import Payment
from apps.users.models import User
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import card_token, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking(client):
    booking = make_booking(SessionFactory(price=9500), email="payer@example.com", seats=1)
    client.force_login(booking.purchaser)
    return booking


def _post(base, path, key, data):
    return requests.post(f"{base}{path}", data=data, timeout=5,
                         headers={"Authorization": "Bearer sk_test_local", "Idempotency-Key": key})


def test_the_fake_replays_a_key_and_refuses_it_with_other_parameters(fake_stripe):
    first = _post(fake_stripe, "/v1/customers", "same-key", {"email": "a@example.com"})
    again = _post(fake_stripe, "/v1/customers", "same-key", {"email": "a@example.com"})
    other = _post(fake_stripe, "/v1/customers", "same-key", {"email": "b@example.com"})

    assert first.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"


def test_a_new_attempt_after_no_answer_never_resends_the_old_key_with_other_details(
        client, booking, fake_stripe, settings):
    """Stripe did not answer the first attempt (timeout); the customer then pays with other
    details (a new ConfirmationToken). Reusing the first attempt's key with the new token
    would be refused by Stripe (idempotency_error) or, had the first call reached Stripe,
    replay its answer. A new attempt with its own key is made instead."""
    first_token, second_token = card_token("4242424242424242"), card_token("pm_card_visa")
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    assert pay(client, booking, first_token).status_code == 503
    settings.STRIPE_API_BASE = fake_stripe

    body = pay(client, booking, second_token).json()

    assert body["status"] == "succeeded", body
    attempts = list(Payment.objects.filter(booking=booking).order_by("attempt"))
    assert [(p.attempt, p.status) for p in attempts] == [(1, "failed"), (2, "succeeded")]
    assert attempts[0].idempotency_key != attempts[1].idempotency_key
    assert attempts[1].stripe_confirmation_token == second_token


def test_payment_keys_differ_between_deployments_with_the_same_ids(booking):
    """Two databases (a restore, staging and production on one Stripe account) have a
    payment with the same booking id and attempt; their keys must not collide."""
    one = Payment.objects.create(booking=booking, user=booking.purchaser, amount=9500,
                                 currency="GBP", attempt=1)
    key = one.idempotency_key
    # Payments are never deleted; the retention path stands in for "the other database".
    Payment.objects.filter(pk=one.pk).retention_delete()
    two = Payment.objects.create(booking=booking, user=booking.purchaser, amount=9500,
                                 currency="GBP", attempt=1)
    assert two.idempotency_key != key
    two.refresh_from_db()
    assert two.idempotency_key == Payment.objects.get(pk=two.pk).idempotency_key


def test_a_customer_id_stripe_does_not_know_is_replaced(client, booking, fake_stripe):
    """Keys changed from test to live (or the fake to Stripe): the stored cus_… is unknown
    there. The payment goes through with a new customer instead of failing for good."""
    User.objects.filter(pk=booking.purchaser_id).update(stripe_customer_id="cus_unknownEverywhere")

    response = pay(client, booking, card_token("4242424242424242"))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "succeeded"
    customer_id = User.objects.get(pk=booking.purchaser_id).stripe_customer_id
    assert customer_id.startswith("cus_") and customer_id != "cus_unknownEverywhere"
    assert Booking.objects.get(pk=booking.pk).status == "paid"
