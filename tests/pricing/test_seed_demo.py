import pytest
from django.core.management import call_command

from apps.bookings.models import Booking, BookingDiscount
from apps.pricing.models import DiscountCode

pytestmark = pytest.mark.django_db


def test_demo_data_has_used_codes_whose_uses_match_their_bookings():
    call_command("seed_demo", verbosity=0)
    lines = BookingDiscount.objects.select_related("booking")
    assert {line.kind for line in lines} == {"code", "group"}
    assert any(line.booking.status == Booking.Status.EXPIRED and line.use_released_at
               for line in lines)
    for code in DiscountCode.objects.all():
        counted = lines.filter(code=code, use_released_at__isnull=True).count()
        assert code.uses == counted > 0, code
    for booking in Booking.objects.filter(discounts__isnull=False).distinct():
        assert booking.total_amount == booking.list_amount - sum(
            d.amount for d in booking.discounts.all())
