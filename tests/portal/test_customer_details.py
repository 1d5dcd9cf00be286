"""Issue #21.11: small things customers notice."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.services import booking_expire_hold
from apps.certificates.models import Certificate
from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking
from tests.portal.test_views import form_data

pytestmark = pytest.mark.django_db


def test_an_expired_hold_shows_nothing_due(client):
    booking = make_booking(SessionFactory(price=14500), email="late@example.com", seats=2)
    client.force_login(booking.purchaser)
    assert "£290.00" in client.get("/portal/").content.decode()  # still held: due
    booking_expire_hold(booking_id=booking.pk, now=booking.hold_expires_at + timedelta(1))
    page = client.get("/portal/").content.decode()
    assert Booking.objects.get(pk=booking.pk).status == "expired"
    assert " due" not in page and "Pay now" not in page
    assert "Nothing to pay" in page


def test_a_lapsed_hold_not_yet_swept_shows_nothing_due(client):
    booking = make_booking(SessionFactory(price=14500), email="late@example.com", seats=2)
    Booking.objects.filter(pk=booking.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(booking.purchaser)
    assert " due" not in client.get("/portal/").content.decode()


def test_renewal_is_offered_near_the_expiry_date():
    now = timezone.now()
    booking = make_booking(SessionFactory(starts_at=now + timedelta(days=7)),
                           email="cert@example.com")
    payment_record_manual(booking=booking, actor=None)
    course = booking.session.course
    attendee = booking.attendees.get()
    expires = (now + timedelta(days=365 * 3)).date()
    Certificate.objects.create(attendee=attendee, user=attendee.user, course=course,
                               session=booking.session, holder_name=attendee.name,
                               issued_on=date(2026, 1, 5), expires_on=expires,
                               number="CERT-RENEW0001")
    client = Client()
    client.force_login(attendee.user)
    page = client.get("/portal/").content.decode()
    # Next week's session is not a renewal for a certificate valid for three more years.
    assert f"/sessions/{booking.session.pk}/book/" not in page
    assert "Renew from" in page and f"?course={course.slug}" in page
    near = SessionFactory(course=course, starts_at=timezone.make_aware(
        timezone.datetime.combine(expires - timedelta(days=20), timezone.datetime.min.time()))
        + timedelta(hours=9))
    page = client.get("/portal/").content.decode()
    assert f"/sessions/{near.pk}/book/" in page and "Book a renewal on" in page


def test_i_am_attending_fills_the_first_seat_with_the_purchasers_details(client):
    session = SessionFactory(capacity=5)
    data = form_data(session, seats=2, i_am_attending="on")
    del data["attendee_1_name"], data["attendee_1_email"]
    response = client.post(f"/sessions/{session.pk}/book/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    booking = Booking.objects.get(purchaser__email="pat@example.com")
    assert [(a.name, a.email) for a in booking.attendees.order_by("pk")] == [
        ("Pat Lee", "pat@example.com"), ("Person 2", "person2@example.com")]


def test_after_a_failed_submit_the_first_error_has_the_focus(client):
    session = SessionFactory(capacity=5)
    data = form_data(session, seats=2, attendee_2_email="not-an-email", email="also-bad")
    html = client.post(f"/sessions/{session.pk}/book/", data).content.decode()
    assert html.count("autofocus") == 1
    assert 'name="attendee_2_email"' in html.split("autofocus")[0].rsplit("<input", 1)[1] \
        or 'autofocus' in html.split('name="attendee_2_email"')[1].split(">")[0]


def test_3d_secure_failure_is_said_in_plain_words(client):
    booking = make_booking(SessionFactory(), email="card@example.com")
    client.force_login(booking.purchaser)
    page = client.get(f"/bookings/{booking.reference}/").content.decode()
    assert "Your bank did not confirm this payment" in page
    assert "No money was taken" in page
