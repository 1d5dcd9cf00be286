import pytest

from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking


@pytest.fixture
def vat_20(settings):
    settings.VAT_RATE_PERCENT = 20
    settings.SELLER_NAME = "Brightwater Training Ltd"
    settings.SELLER_ADDRESS = "12 Wharf Road, London N1 7GR"
    settings.SELLER_VAT_NUMBER = "GB 123 4567 89"  # pragma: allowlist secret


@pytest.fixture
def paid(vat_20):
    """A two-seat booking at £95.00 a seat, paid (recorded by staff): no Stripe needed."""
    booking = make_booking(SessionFactory(price=9500), seats=2)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    return booking
