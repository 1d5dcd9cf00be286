import csv
import io

import pytest

from apps.bookings.models import Booking
from apps.bookings.services import SoldOutError, booking_move
from apps.core.errors import DomainError
from apps.core.models import Communication
from apps.payments.services import payment_record_manual
from apps.sessions.models import CourseSession
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_moving_a_booking_takes_new_seats_and_frees_the_old(admin_client):
    old = SessionFactory(capacity=5)
    new = SessionFactory(course=old.course, capacity=5)
    booking = make_booking(old, seats=2)
    page = admin_client.get(f"/admin/bookings/booking/{booking.pk}/move/").content.decode()
    assert f'value="{new.pk}"' in page
    response = admin_client.post(f"/admin/bookings/booking/{booking.pk}/move/",
                                 {"session": new.pk}, follow=True)
    assert f"{booking.reference} moved." in response.content.decode()
    booking.refresh_from_db()
    assert booking.session_id == new.pk
    assert CourseSession.objects.get(pk=old.pk).seats_taken == 0
    assert CourseSession.objects.get(pk=new.pk).seats_taken == 2


def test_moving_checks_seats_and_course():
    old = SessionFactory(capacity=5)
    full = SessionFactory(course=old.course, capacity=1)
    other_course = SessionFactory()
    booking = make_booking(old, seats=2)
    with pytest.raises(SoldOutError):
        booking_move(booking_id=booking.pk, to_session_id=full.pk)
    with pytest.raises(DomainError, match="same course"):
        booking_move(booking_id=booking.pk, to_session_id=other_course.pk)
    assert CourseSession.objects.get(pk=old.pk).seats_taken == 2
    assert CourseSession.objects.get(pk=full.pk).seats_taken == 0


def test_resend_confirmation_sends_again_once_per_click(admin_client):
    booking = make_booking(SessionFactory(), seats=2)
    payment_record_manual(booking=booking, actor=None)
    assert Communication.objects.filter(kind="booking_confirmation").count() == 2
    admin_client.post("/admin/bookings/booking/", {
        "action": "resend_confirmation", "_selected_action": [booking.pk]})
    assert Communication.objects.filter(kind="booking_confirmation").count() == 4


def test_attendee_list_exports_as_csv_with_special_requirements(admin_client):
    session = SessionFactory()
    booking = make_booking(session, email="lead@example.com", seats=2)
    Booking.objects.filter(pk=booking.pk).update(special_requirements="Step-free access")
    payment_record_manual(booking=booking, actor=None)
    make_booking(session, email="unpaid@example.com")  # pending: not on the list
    response = admin_client.post("/admin/course_sessions/coursesession/", {
        "action": "export_attendees_csv", "_selected_action": [session.pk]})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(r["email"] for r in rows) == ["guest1.lead@example.com", "lead@example.com"]
    assert {r["special requirements"] for r in rows} == {"Step-free access"}
