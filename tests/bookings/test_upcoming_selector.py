from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.selectors import booking_is_upcoming, upcoming_bookings
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", list(Booking.Status.values))
def test_the_queryset_and_the_python_rule_agree(status):
    now = timezone.now()
    booking = make_booking(SessionFactory(capacity=5, starts_at=now + timedelta(days=3)))
    Booking.objects.filter(pk=booking.pk).update(status=status)
    booking.refresh_from_db()
    in_query = upcoming_bookings(Booking.objects.filter(pk=booking.pk), now=now).exists()
    assert in_query == booking_is_upcoming(booking, now=now) == (status in {"pending", "paid"})
    later = now + timedelta(days=4)
    assert not upcoming_bookings(Booking.objects.filter(pk=booking.pk), now=later).exists()
    assert not booking_is_upcoming(booking, now=later)
