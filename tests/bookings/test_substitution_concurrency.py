"""Substitutions racing on PostgreSQL: threads with their own connections."""

import pytest
from django.db import connection

from apps.bookings.models import Attendee
from apps.bookings.services import AttendeeInput, BookingRequest, booking_create
from apps.bookings.substitution import attendee_substitute
from apps.core.errors import ConflictError
from apps.payments.services import payment_record_manual
from apps.users.models import ActivityLog
from tests.bookings.test_concurrency import run_in_threads
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _paid(session, purchaser, attendees):
    booking = booking_create(request=BookingRequest(
        session_id=session.pk, purchaser_email=purchaser, purchaser_first_name="Pat",
        purchaser_last_name="Buyer",
        attendees=[AttendeeInput(name=n, email=e) for n, e in attendees]))
    payment_record_manual(booking=booking, actor=None, method="invoice")
    return booking


def test_two_substitutions_of_one_seat_at_once_one_wins_the_other_is_told():
    assert connection.vendor == "postgresql"
    session = SessionFactory(capacity=10)
    booking = _paid(session, "pat@example.com", [("Olive Old", "olive@example.com")])
    seat = booking.attendees.get()

    results = run_in_threads(2, lambda i: attendee_substitute(
        attendee_id=seat.pk, name=f"Racer {i}", email=f"racer{i}@example.com",
        actor=booking.purchaser, replacing="olive@example.com").email)

    won = [value for outcome, value in results if outcome == "ok"]
    lost = [value for outcome, value in results if outcome == "error"]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], ConflictError)
    assert "just been given to Racer" in lost[0].message
    seat.refresh_from_db()
    assert seat.email == won[0]
    assert ActivityLog.objects.filter(action="attendee.substituted").count() == 1


def test_one_person_named_for_two_seats_at_once_gets_only_one():
    session = SessionFactory(capacity=10)
    first = _paid(session, "pat@example.com", [("Olive Old", "olive@example.com")])
    second = _paid(session, "quinn@example.com", [("Owen Old", "owen@example.com")])
    seats = [first.attendees.get(), second.attendees.get()]

    results = run_in_threads(2, lambda i: attendee_substitute(
        attendee_id=seats[i].pk, name="Nina New", email="nina@example.com",
        actor=None, by_staff=True).pk)

    assert sorted(outcome for outcome, _ in results) == ["error", "ok"], results
    (error,) = [value for outcome, value in results if outcome == "error"]
    assert "already has a seat on this session" in error.message
    assert Attendee.objects.filter(booking__session=session, email="nina@example.com") \
        .count() == 1
