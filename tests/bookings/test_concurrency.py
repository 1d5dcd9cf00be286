"""Seats under real concurrency: threads with their own PostgreSQL connections."""

import threading

import pytest
from django.db import connection

from apps.bookings.models import Booking
from apps.bookings.services import SoldOutError
from apps.sessions.models import CourseSession
from apps.users.models import User
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(count, work):
    barrier = threading.Barrier(count)
    results = [None] * count

    def runner(index):
        try:
            barrier.wait()
            results[index] = ("ok", work(index))
        except Exception as error:
            results[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_thirty_threads_for_the_last_five_seats_take_exactly_five():
    assert connection.vendor == "postgresql"
    session = SessionFactory(capacity=12)
    make_booking(session, email="early@example.com", seats=7)

    results = run_in_threads(
        30, lambda i: make_booking(session, email=f"racer{i}@example.com").reference
    )

    won = [value for outcome, value in results if outcome == "ok"]
    lost = [value for outcome, value in results if outcome == "error"]
    assert len(won) == 5
    assert len(lost) == 25
    assert all(isinstance(error, SoldOutError) for error in lost), lost
    assert all("sold out" in error.message for error in lost)
    session.refresh_from_db()
    assert session.seats_taken == 12 == session.capacity
    assert Booking.objects.filter(session=session).count() == 6


def test_group_bookings_racing_never_oversell():
    session = SessionFactory(capacity=10)
    results = run_in_threads(
        12, lambda i: make_booking(session, email=f"group{i}@example.com", seats=3).seats
    )
    taken = sum(value for outcome, value in results if outcome == "ok")
    session.refresh_from_db()
    assert taken == session.seats_taken == 9
    assert all(isinstance(v, SoldOutError) for o, v in results if o == "error")


def test_the_same_attendee_email_racing_creates_one_user():
    # Ten sessions: one person holds one seat per session (one booking each).
    sessions = [SessionFactory(capacity=50) for _ in range(10)]
    run_in_threads(10, lambda i: make_booking(sessions[i], email="Same.Person@Example.com"))
    assert User.objects.filter(email="same.person@example.com").count() == 1
    assert Booking.objects.filter(session__in=sessions).count() == 10


def test_a_double_submitted_form_racing_creates_one_booking():
    import uuid

    session = SessionFactory(capacity=10)
    token = uuid.uuid4()
    results = run_in_threads(8, lambda i: make_booking(session, token=token, seats=2).pk)
    ids = {value for outcome, value in results if outcome == "ok"}
    assert len(ids) == 1, results
    session.refresh_from_db()
    assert session.seats_taken == 2
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 2


def test_the_same_people_booked_again_at_once_with_fresh_forms_make_one_booking():
    """Two tabs (or back and submit) racing: different submission tokens, the same
    purchaser and people. One booking holds the seats; every submission gets it back."""
    session = SessionFactory(capacity=10)
    results = run_in_threads(6, lambda i: make_booking(session, seats=2).pk)
    assert all(outcome == "ok" for outcome, _ in results), results
    assert len({value for _, value in results}) == 1
    assert Booking.objects.filter(session=session).count() == 1
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 2


def test_one_attendee_booked_by_different_purchasers_at_once_gets_one_seat():
    import uuid

    from apps.bookings.services import (
        AlreadyBookedError,
        AttendeeInput,
        BookingRequest,
        booking_create,
    )

    session = SessionFactory(capacity=20)

    def book(i):
        return booking_create(request=BookingRequest(
            session_id=session.pk, purchaser_email=f"manager{i}@example.com",
            purchaser_first_name="M", purchaser_last_name=str(i), submission_token=uuid.uuid4(),
            attendees=[AttendeeInput(name="Sam Shared", email="sam@example.com"),
                       AttendeeInput(name=f"Own {i}", email=f"own{i}@example.com")])).pk

    results = run_in_threads(8, book)
    won = [value for outcome, value in results if outcome == "ok"]
    lost = [value for outcome, value in results if outcome == "error"]
    assert len(won) == 1, results
    assert all(isinstance(e, AlreadyBookedError) for e in lost), lost
    assert all("Sam Shared (sam@example.com) already has a seat" in e.message for e in lost)
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 2
    assert Booking.objects.filter(session=session).count() == 1
