import pytest

from apps.payments import gateway
from apps.payments.services import payment_pay_card
from tests.factories import SessionFactory, make_booking


def pay_by_card(booking):
    card = gateway.client().v1.payment_methods.create(params={
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                 "exp_year": 2030, "cvc": "123"}}).id
    result = payment_pay_card(booking=booking, payment_method_id=card)
    assert result.payment.status == "succeeded"
    booking.refresh_from_db()
    return result.payment


@pytest.fixture
def paid_booking(fake_stripe):
    """A two-seat booking (2 x £50) really paid on the fake Stripe."""
    booking = make_booking(SessionFactory(capacity=10, price=5000), email="payer@example.com",
                           seats=2)
    payment = pay_by_card(booking)
    return booking, payment


def stripe_refunds(payment):
    return gateway.list_refunds(payment_intent_id=payment.stripe_payment_intent_id)
