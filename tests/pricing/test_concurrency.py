"""A code's last uses raced by real threads on PostgreSQL: exactly `max_uses` bookings get
the discount, the others a clear refusal (never a 500, never a use too many)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.bookings.models import Booking, BookingDiscount
from apps.bookings.services import booking_expire_hold
from apps.pricing.models import DiscountCode
from apps.pricing.quotes import DiscountCodeError
from apps.sessions.models import CourseSession
from tests.bookings.test_concurrency import run_in_threads
from tests.factories import SessionFactory

from .helpers import book_with_code, make_code

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_bookings_race_for_five_uses_and_exactly_five_get_the_discount():
    assert connection.vendor == "postgresql"
    session = SessionFactory(capacity=40, price=5000)
    code = make_code("FIVE", percent=20, max_uses=5)

    results = run_in_threads(
        20, lambda i: book_with_code(session, code="five", email=f"racer{i}@example.com").pk)

    won = [value for outcome, value in results if outcome == "ok"]
    lost = [value for outcome, value in results if outcome == "error"]
    assert len(won) == 5 and len(lost) == 15
    assert all(isinstance(error, DiscountCodeError) for error in lost), lost
    assert all("FIVE has been used up" in error.message for error in lost)
    assert DiscountCode.objects.get(pk=code.pk).uses == 5
    assert set(Booking.objects.values_list("total_amount", flat=True)) == {4000}
    assert BookingDiscount.objects.filter(code=code).count() == 5
    # The refused bookings left nothing behind: no rows, no seats.
    assert Booking.objects.count() == 5
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 5


def test_uses_given_back_by_expiring_holds_while_others_book_stay_exact():
    session = SessionFactory(capacity=40, price=5000)
    code = make_code("SWAP", percent=10, max_uses=3)
    first = [book_with_code(session, code="SWAP", email=f"first{i}@example.com")
             for i in range(3)]
    later = timezone.now() + timedelta(hours=1)

    def work(i):
        if i < 3:
            return booking_expire_hold(booking_id=first[i].pk, now=later)
        return book_with_code(session, code="SWAP", email=f"next{i}@example.com",
                              now=later).pk

    results = run_in_threads(10, work)
    assert all(outcome == "ok" or isinstance(value, DiscountCodeError)
               for outcome, value in results), results
    counted = BookingDiscount.objects.filter(code=code, use_released_at__isnull=True).count()
    assert DiscountCode.objects.get(pk=code.pk).uses == counted <= 3
