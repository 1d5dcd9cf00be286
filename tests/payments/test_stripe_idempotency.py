"""Idempotency as real Stripe does it: the fake replays a key's first response (see
`fake_stripe`), so a key reused for a new attempt shows up here as it would in production."""

import pytest
import requests

from apps.bookings.models import Booking
from apps.payments import gateway
from apps.payments.models import Payment
from apps.users.models import User
from tests.factories import SessionFactory, make_booking

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


def test_a_second_card_form_after_the_card_was_set_up_gets_a_fresh_setup_intent(
        client, booking, fake_stripe):
    """The card was set up on the first form, then charging it broke off (a timeout, a
    reload): the next form must not be handed the finished SetupIntent again, which
    Stripe.js would refuse to confirm."""
    first = client.post(f"/bookings/{booking.reference}/pay/setup/").json()
    setup_id = first["client_secret"].split("_secret")[0]
    gateway.client().v1.setup_intents.confirm(setup_id, params={"payment_method": "pm_card_visa"})
    assert gateway.retrieve_setup_intent(setup_id)["status"] == "succeeded"

    second = client.post(f"/bookings/{booking.reference}/pay/setup/").json()

    assert second["client_secret"] != first["client_secret"]
    fresh = gateway.retrieve_setup_intent(second["client_secret"].split("_secret")[0])
    assert fresh["status"] == "requires_payment_method"
    # Still one open attempt for the booking: a new form is not a new payment.
    assert Payment.objects.filter(booking=booking).count() == 1


def test_payment_keys_differ_between_deployments_with_the_same_ids(booking):
    """Two databases (a restore, staging and production on one Stripe account) have a
    payment with the same booking id and attempt; their keys must not collide."""
    one = Payment.objects.create(booking=booking, user=booking.purchaser, amount=9500,
                                 currency="GBP", attempt=1)
    key = one.idempotency_key
    one.delete()
    two = Payment.objects.create(booking=booking, user=booking.purchaser, amount=9500,
                                 currency="GBP", attempt=1)
    assert two.idempotency_key != key
    two.refresh_from_db()
    assert two.idempotency_key == Payment.objects.get(pk=two.pk).idempotency_key


def test_a_customer_id_stripe_does_not_know_is_replaced(client, booking, fake_stripe):
    """Keys changed from test to live (or the fake to Stripe): the stored cus_… is unknown
    there. The card form is prepared with a new customer instead of failing for good."""
    User.objects.filter(pk=booking.purchaser_id).update(stripe_customer_id="cus_unknownEverywhere")

    response = client.post(f"/bookings/{booking.reference}/pay/setup/")

    assert response.status_code == 200, response.content
    assert response.json()["client_secret"].startswith("seti_")
    customer_id = User.objects.get(pk=booking.purchaser_id).stripe_customer_id
    assert customer_id.startswith("cus_") and customer_id != "cus_unknownEverywhere"
    assert Booking.objects.get(pk=booking.pk).status == "pending"
