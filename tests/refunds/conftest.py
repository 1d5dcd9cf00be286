import pytest

from apps.payments import gateway
from apps.payments.services import payment_pay_card
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import card_token


def pay_by_card(booking):
    result = payment_pay_card(booking=booking,
                              confirmation_token=card_token("4242424242424242"))
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
