"""Transfers and one-place cancellations racing each other and new bookings, on
PostgreSQL with real threads: no oversell, seats and totals exact."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.services import SoldOutError
from apps.payments.models import Payment
from apps.refunds.changes import (
    ChangeRefused,
    attendee_cancel,
    booking_balance_due,
    booking_transfer,
)
from apps.refunds.models import Refund
from apps.refunds.services import refundable_amount
from apps.sessions.models import CourseSession
from tests.bookings.test_concurrency import run_in_threads
from tests.factories import SessionFactory, make_booking
from tests.refunds.test_changes import paid_by_invoice

pytestmark = pytest.mark.django_db(transaction=True)


def taken(*sessions):
    return tuple(CourseSession.objects.get(pk=s.pk).seats_taken for s in sessions)


def held(booking):
    return sum(refundable_amount(p) for p in Payment.objects.filter(booking=booking))


@pytest.fixture
def course_dates():
    first = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(days=20))
    dearer = SessionFactory(course=first.course, price=6000,
                            starts_at=timezone.now() + timedelta(days=30))
    cheaper = SessionFactory(course=first.course, price=4000,
                             starts_at=timezone.now() + timedelta(days=40))
    return first, dearer, cheaper


def test_the_same_transfer_twice_at_once_moves_once(course_dates):
    assert connection.vendor == "postgresql"
    first, _, cheaper = course_dates
    booking = paid_by_invoice(first)
    results = run_in_threads(2, lambda i: booking_transfer(
        booking_id=booking.pk, to_session_id=cheaper.pk, actor=None, initiator="customer"))
    outcomes = sorted(outcome for outcome, _ in results)
    assert outcomes == ["error", "ok"]
    assert isinstance(next(v for o, v in results if o == "error"), ChangeRefused)
    assert taken(first, cheaper) == (0, 2)
    assert list(Refund.objects.values_list("amount", flat=True)) == [2000]
    booking.refresh_from_db()
    assert booking.total_amount == 8000 and held(booking) == 8000


def test_two_transfers_to_different_dates_at_once_leave_exact_seats_and_money(course_dates):
    first, dearer, cheaper = course_dates
    booking = paid_by_invoice(first)
    targets = [dearer, cheaper]
    results = run_in_threads(2, lambda i: booking_transfer(
        booking_id=booking.pk, to_session_id=targets[i].pk, actor=None, initiator="staff"))
    assert [outcome for outcome, _ in results] == ["ok", "ok"]  # one after the other
    booking.refresh_from_db()
    final = CourseSession.objects.get(pk=booking.session_id)
    assert final.pk in (dearer.pk, cheaper.pk)
    assert taken(first) == (0,) and taken(final) == (2,)
    assert sum(taken(dearer, cheaper)) == 2
    assert booking.total_amount == final.price * 2
    # Either order refunds the £20 the cheaper date costs less than what was paid once.
    assert sum(Refund.objects.values_list("amount", flat=True)) == 2000
    assert held(booking) == 8000
    # Dearer last: the £20 above the £100 paid is owed; cheaper last: nothing is.
    assert booking_balance_due(booking=booking) == max(0, booking.total_amount - 10000)


def test_a_transfer_and_a_new_booking_race_for_the_last_seats(course_dates):
    first, dearer, _ = course_dates
    CourseSession.objects.filter(pk=dearer.pk).update(capacity=3)
    make_booking(dearer, email="early@example.com")
    booking = paid_by_invoice(first)

    def work(i):
        if i == 0:
            return booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk,
                                    actor=None, initiator="customer")
        return make_booking(dearer, email="late@example.com", seats=2)

    results = run_in_threads(2, work)
    won = [outcome for outcome, _ in results]
    assert sorted(won) == ["error", "ok"]
    assert isinstance(next(v for o, v in results if o == "error"), SoldOutError)
    assert taken(dearer) == (3,)
    booking.refresh_from_db()
    if won[0] == "ok":
        assert booking.session_id == dearer.pk and taken(first) == (0,)
        assert booking.total_amount == 12000
    else:
        assert booking.session_id == first.pk and taken(first) == (2,)
        assert booking.total_amount == 10000


def test_two_places_cancelled_at_once_release_two_seats_and_refund_two(course_dates):
    first, _, _ = course_dates
    booking = paid_by_invoice(first, seats=3)
    guests = list(booking.attendees.exclude(user=booking.purchaser))
    results = run_in_threads(2, lambda i: attendee_cancel(
        attendee_id=guests[i].pk, actor=booking.purchaser, initiator="customer"))
    assert [outcome for outcome, _ in results] == ["ok", "ok"]
    booking.refresh_from_db()
    assert (booking.seats, booking.total_amount) == (1, 5000)
    assert taken(first) == (1,)
    assert sum(Refund.objects.values_list("amount", flat=True)) == 10000
    assert held(booking) == 5000


def test_cancelling_both_places_at_once_keeps_the_last_one(course_dates):
    first, _, _ = course_dates
    booking = paid_by_invoice(first, seats=2)
    both = list(booking.attendees.all())
    results = run_in_threads(2, lambda i: attendee_cancel(
        attendee_id=both[i].pk, actor=booking.purchaser, initiator="customer"))
    assert sorted(outcome for outcome, _ in results) == ["error", "ok"]
    booking.refresh_from_db()
    assert booking.seats == 1 and booking.attendees.count() == 1
    assert taken(first) == (1,) and Refund.objects.count() == 1


def test_a_place_cancelled_while_the_booking_moves(course_dates):
    first, dearer, _ = course_dates
    booking = paid_by_invoice(first, seats=3)
    guest = booking.attendees.exclude(user=booking.purchaser).first()

    def work(i):
        if i == 0:
            return attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser,
                                   initiator="customer")
        return booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=None,
                                initiator="staff")

    results = run_in_threads(2, work)
    assert [outcome for outcome, _ in results] == ["ok", "ok"]
    booking = Booking.objects.get(pk=booking.pk)
    assert booking.seats == 2 and booking.session_id == dearer.pk
    assert taken(first, dearer) == (0, 2)
    assert booking.total_amount == 2 * 6000
