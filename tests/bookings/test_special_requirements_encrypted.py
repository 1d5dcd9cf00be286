"""Issue #21.12: special requirements (often health data) are encrypted at rest, and the
migration encrypts what was stored before."""

import pytest
from django.core.management import call_command
from django.db import connection

from apps.bookings.models import Booking
from apps.bookings.services import AttendeeInput, BookingRequest, booking_create
from tests.factories import SessionFactory


def _raw(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT special_requirements FROM bookings_booking WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _book(session, email, requirements):
    return booking_create(request=BookingRequest(
        session_id=session.pk, purchaser_email=email, purchaser_first_name="Al",
        purchaser_last_name="Bee",
        attendees=[AttendeeInput(name="Al Bee", email=email)],
        special_requirements=requirements))


@pytest.mark.django_db
def test_special_requirements_are_encrypted_at_rest_and_read_back():
    session = SessionFactory()
    booking = _book(session, "health@example.com", "Epilepsy: no strobe lights")
    stored = _raw(booking.pk)
    assert "Epilepsy" not in stored and stored.startswith("gAAAA")
    assert Booking.objects.get(pk=booking.pk).special_requirements == \
        "Epilepsy: no strobe lights"
    empty = _book(session, "none@example.com", "")
    assert _raw(empty.pk) is None
    assert Booking.objects.get(pk=empty.pk).special_requirements == ""


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_values_and_reverses():
    session = SessionFactory()
    booking = _book(session, "before@example.com", "Wheelchair user")
    empty = _book(session, "empty@example.com", "")
    call_command("migrate", "bookings", "0003", verbosity=0)
    try:
        assert _raw(booking.pk) == "Wheelchair user"  # plaintext, as before the change
        assert _raw(empty.pk) == ""
    finally:
        call_command("migrate", "bookings", verbosity=0)
    stored = _raw(booking.pk)
    assert stored.startswith("gAAAA") and "Wheelchair" not in stored
    assert _raw(empty.pk) is None
    assert Booking.objects.get(pk=booking.pk).special_requirements == "Wheelchair user"
