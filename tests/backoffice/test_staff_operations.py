import csv
import io
import re

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
    assert f"{booking.reference} moved; its people have been sent the new date" in \
        response.content.decode()
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


def phone_form(session, **overrides):
    data = {"session": session.pk, "email": "CALLER@Example.com", "first_name": "Cal",
            "last_name": "Ler", "company_name": "Caller Ltd", "phone": "0123",
            "attendees": "Cal Ler, caller@example.com\nAda Crew, ada@example.com",
            "special_requirements": "", "payment": "invoice"}
    data.update(overrides)
    return data


def test_phone_booking_paid_by_invoice_matches_the_user_and_updates_totals(admin_client):
    from apps.users.models import User
    from apps.users.services import user_get_or_create

    existing = user_get_or_create(email="caller@example.com")
    session = SessionFactory(capacity=5, price=5000)
    response = admin_client.post("/admin/bookings/booking/phone/", phone_form(session))
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.purchaser_id == existing.pk
    assert User.objects.filter(email__iexact="caller@example.com").count() == 1
    assert booking.status == "paid" and booking.seats == 2
    assert booking.payments.get().method == "invoice"
    existing.refresh_from_db()
    assert existing.total_spent == 10000 and existing.total_bookings == 1
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 2


def test_phone_booking_checks_seats(admin_client):
    session = SessionFactory(capacity=1)
    response = admin_client.post("/admin/bookings/booking/phone/", phone_form(session))
    assert response.status_code == 200
    assert "Only 1 seat left" in response.content.decode()
    assert not Booking.objects.exists()


def test_phone_booking_with_a_payment_link_lets_the_customer_pay_without_signing_in(
        admin_client, client):
    session = SessionFactory(capacity=5)
    admin_client.post("/admin/bookings/booking/phone/", phone_form(session, payment="link"))
    booking = Booking.objects.get()
    assert booking.status == "pending"
    email = Communication.objects.get(kind="payment_link")
    link = re.search(r"http://testserver(/bookings/\S+)", email.body).group(1)
    assert client.get(f"/bookings/{booking.reference}/").status_code == 404  # no link, no page
    page = client.get(link)
    assert page.status_code == 200 and "Pay for your booking" in page.content.decode()
    forged = client.__class__().get(f"/bookings/{booking.reference}/?key=forged")
    assert forged.status_code == 404


def test_adding_a_booking_in_admin_goes_through_the_booking_rules(admin_client):
    response = admin_client.get("/admin/bookings/booking/add/")
    assert response.status_code == 302 and response["Location"].endswith("/phone/")


def test_session_page_lists_its_paid_attendees_with_special_requirements(admin_client):
    session = SessionFactory()
    booking = make_booking(session, email="lead@example.com", seats=2)
    Booking.objects.filter(pk=booking.pk).update(special_requirements="Vegan lunch")
    payment_record_manual(booking=booking, actor=None)
    make_booking(session, email="unpaid@example.com")
    page = admin_client.get(f"/admin/course_sessions/coursesession/{session.pk}/change/")
    html = page.content.decode()
    assert "lead@example.com" in html and "Vegan lunch" in html
    assert "unpaid@example.com" not in html
