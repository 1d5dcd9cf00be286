"""Erasure reaches the copies of a person's data other features keep: stored Stripe events
about their payments and disputes, and the marketing consent history."""

import pytest

from apps.operations.erasure import user_anonymise
from apps.payments.models import Payment, StripeEvent
from apps.users.models import MarketingConsentChange
from apps.users.services import marketing_consent_set
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def _event(event_id, obj):
    return StripeEvent.objects.create(
        stripe_id=event_id, type=f"{obj['object']}.updated", object_id=obj["id"],
        payload={"id": event_id, "type": f"{obj['object']}.updated", "created": 1,
                 "data": {"object": obj}})


def test_erasure_strips_personal_data_from_stored_stripe_events():
    booking = make_booking(SessionFactory(price=5000), email="erase.me@example.com")
    payment = Payment.objects.create(booking=booking, user=booking.purchaser, amount=5000,
                                     currency="GBP", stripe_payment_intent_id="pi_erase1")
    personal = {"name": "Erase Me", "email": "erase.me@example.com",
                "address": {"line1": "1 Secret Street"}}
    intent = _event("evt_erase_pi", {"id": "pi_erase1", "object": "payment_intent",
                                     "amount": 5000, "currency": "gbp",
                                     "receipt_email": "erase.me@example.com"})
    charge = _event("evt_erase_ch", {"id": "ch_erase1", "object": "charge", "amount": 5000,
                                     "payment_intent": "pi_erase1",
                                     "billing_details": personal})
    other = _event("evt_keep", {"id": "pi_someone_else", "object": "payment_intent",
                                "receipt_email": "keep@example.com"})

    user_anonymise(user=booking.purchaser)

    for event in (intent, charge):
        event.refresh_from_db()
        assert event.payload["redacted"] is True
        assert "erase.me" not in str(event.payload)
        assert "Secret Street" not in str(event.payload)
        assert event.payload["data"]["object"]["amount"] == 5000  # the accounting stays
    other.refresh_from_db()
    assert other.payload["data"]["object"]["receipt_email"] == "keep@example.com"
    assert payment.pk  # the money row itself is untouched


def test_erasure_withdraws_marketing_consent_in_its_history():
    booking = make_booking(SessionFactory(), email="consent.erase@example.com")
    user = booking.purchaser
    marketing_consent_set(user=user, given=True, source=MarketingConsentChange.Source.PORTAL)

    user_anonymise(user=user)

    last = MarketingConsentChange.objects.filter(user=user).order_by("created_at", "pk").last()
    assert last.given is False
    assert last.source == MarketingConsentChange.Source.ERASURE
