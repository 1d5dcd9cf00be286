"""Issue 17 item 7: no accidental double booking, and attendees see only their own seats."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.errors import ConflictError
from apps.payments.services import payment_record_manual
from apps.users.models import User
from tests.factories import SessionFactory, make_booking
from tests.portal.test_views import form_data

pytestmark = pytest.mark.django_db


def test_submitting_the_same_booking_again_shows_the_pending_one_and_holds_no_more_seats(
        client):
    session = SessionFactory(capacity=10)
    first = client.post(f"/sessions/{session.pk}/book/", form_data(session, seats=2))
    booking = Booking.objects.get(session=session)
    assert first["Location"] == booking.get_absolute_url()

    # Back button, submit again: a fresh form, so a fresh submission token.
    again = client.post(f"/sessions/{session.pk}/book/", form_data(session, seats=2))

    assert again.status_code == 302
    assert again["Location"] == booking.get_absolute_url()
    assert Booking.objects.filter(session=session).count() == 1
    session.refresh_from_db()
    assert session.seats_taken == 2
    page = client.get(again["Location"]).content.decode()
    assert "You already have a booking for these people on this session" in page


def test_the_same_people_from_another_browser_are_not_shown_the_booking(client):
    session = SessionFactory(capacity=10)
    client.post(f"/sessions/{session.pk}/book/", form_data(session))
    booking = Booking.objects.get(session=session)

    stranger = type(client)()
    response = stranger.post(f"/sessions/{session.pk}/book/", form_data(session))

    assert response.status_code == 200
    html = response.content.decode()
    assert "already waiting for payment" in html
    assert booking.reference not in html
    assert stranger.get(booking.get_absolute_url()).status_code == 404
    assert Booking.objects.filter(session=session).count() == 1


def test_an_attendee_with_a_paid_seat_is_named_in_a_form_error(client):
    session = SessionFactory(capacity=10)
    paid = make_booking(session, email="person1@example.com")
    payment_record_manual(booking=paid, actor=None)

    response = client.post(f"/sessions/{session.pk}/book/", form_data(session, seats=2))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Person 1 (person1@example.com) already has a seat on this session." in html
    assert not Booking.objects.filter(purchaser__email="pat@example.com").exists()
    session.refresh_from_db()
    assert session.seats_taken == 1


def test_an_attendee_held_in_someone_elses_pending_booking_is_refused():
    session = SessionFactory(capacity=10)
    make_booking(session, email="sam@example.com")
    with pytest.raises(ConflictError, match=r"Buyer One \(sam@example.com\) already"):
        _book(session, purchaser="other@example.com", attendees=["sam@example.com"])


def test_a_lapsed_hold_does_not_count_as_a_seat():
    session = SessionFactory(capacity=10)
    make_booking(session, email="sam@example.com",
                 now=timezone.now() - timedelta(minutes=30))
    booking = _book(session, purchaser="other@example.com", attendees=["sam@example.com"])
    assert booking.status == Booking.Status.PENDING


def _book(session, *, purchaser, attendees, token=None):
    from apps.bookings.services import AttendeeInput, BookingRequest, booking_create

    return booking_create(request=BookingRequest(
        session_id=session.pk, purchaser_email=purchaser, purchaser_first_name="P",
        purchaser_last_name="Q", submission_token=token or uuid.uuid4(),
        attendees=[AttendeeInput(name="Buyer One", email=e) for e in attendees]))


def test_attendees_do_not_see_someone_elses_unpaid_booking_in_their_portal(client):
    session = SessionFactory(capacity=10)
    pending = _book(session, purchaser="boss@example.com",
                    attendees=["worker@example.com", "boss@example.com"])
    worker = User.objects.get(email="worker@example.com")
    client.force_login(worker)

    assert pending.reference not in client.get("/portal/").content.decode()
    assert client.get(f"/portal/bookings/{pending.reference}/").status_code == 404
    api = client.get("/api/customer/bookings")
    assert api.status_code == 200 and pending.reference not in api.content.decode()
    assert client.get(f"/api/customer/bookings/{pending.reference}").status_code == 404

    payment_record_manual(booking=pending, actor=None)  # now it is the worker's seat

    home = client.get("/portal/").content.decode()
    assert pending.reference in home and "Pending payment" not in home
    assert client.get(f"/portal/bookings/{pending.reference}/").status_code == 200
    client.force_login(User.objects.get(email="boss@example.com"))
    assert pending.reference in client.get("/portal/").content.decode()


def test_the_data_export_still_lists_unpaid_bookings_naming_the_person(client):
    session = SessionFactory(capacity=10)
    pending = _book(session, purchaser="boss@example.com", attendees=["worker@example.com"])
    client.force_login(User.objects.get(email="worker@example.com"))
    assert pending.reference in client.get("/portal/data.json").content.decode()



def test_submitting_again_for_the_last_seats_shows_the_pending_booking_not_sold_out(client):
    session = SessionFactory(capacity=2)
    client.post(f"/sessions/{session.pk}/book/", form_data(session, seats=2))
    booking = Booking.objects.get(session=session)  # it took the last two seats

    again = client.post(f"/sessions/{session.pk}/book/", form_data(session, seats=2))

    assert again.status_code == 302 and again["Location"] == booking.get_absolute_url()
    assert Booking.objects.filter(session=session).count() == 1
