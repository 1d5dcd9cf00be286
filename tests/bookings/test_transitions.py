import itertools

import pytest

from apps.bookings.models import (
    ALLOWED_TRANSITIONS,
    COUNTED_STATUSES,
    Booking,
    BookingStatus,
    TransitionError,
)
from apps.bookings.services import booking_transition
from apps.sessions.models import CourseSession
from apps.users.models import User
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db

ALL = list(BookingStatus.values)
ALLOWED = [(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets]
FORBIDDEN = [(a, b) for a, b in itertools.product(ALL, ALL)
             if a != b and b not in ALLOWED_TRANSITIONS[a]]


def booking_in(status):
    booking = make_booking(SessionFactory(capacity=5), seats=2)
    Booking.objects.filter(pk=booking.pk).update(status=status)
    if status in COUNTED_STATUSES:
        User.objects.filter(pk=booking.purchaser_id).update(total_bookings=1)
    if status not in {"pending", "paid", "completed", "no_show"}:
        # A booking in a non-seat-holding status has given its seats back.
        CourseSession.objects.filter(pk=booking.session_id).update(seats_taken=0)
    return booking


def test_the_documented_transitions_are_exactly_the_table():
    assert set(ALLOWED) == {
        ("pending", "paid"), ("pending", "expired"), ("pending", "cancelled"),
        ("paid", "completed"), ("paid", "cancelled"), ("paid", "refunded"),
        ("paid", "no_show"), ("expired", "paid"),
    }


@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_each_allowed_transition_works(current, new):
    booking = booking_in(current)
    booking_transition(booking_id=booking.pk, to=new)
    booking.refresh_from_db()
    assert booking.status == new
    assert CourseSession.objects.get(pk=booking.session_id).seats_taken == (
        2 if booking.holds_seats else 0
    )


@pytest.mark.parametrize(("current", "new"), FORBIDDEN)
def test_each_forbidden_transition_raises_a_clear_error(current, new):
    booking = booking_in(current)
    with pytest.raises(TransitionError) as error:
        booking_transition(booking_id=booking.pk, to=new)
    assert "cannot become" in error.value.message
    assert BookingStatus(current).label.lower() in error.value.message
    booking.refresh_from_db()
    assert booking.status == current


def test_paid_counts_towards_purchaser_totals_and_leaving_it_uncounts():
    booking = make_booking(SessionFactory())
    booking_transition(booking_id=booking.pk, to="paid")
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_bookings == 1
    booking_transition(booking_id=booking.pk, to="cancelled")
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_bookings == 0
    assert CourseSession.objects.get(pk=booking.session_id).seats_taken == 0
