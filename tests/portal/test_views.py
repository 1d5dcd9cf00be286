import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.bookings.models import Booking
from apps.payments.services import payment_record_manual
from apps.users.models import User
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def form_data(session, seats=1, token=None, **overrides):
    data = {
        "seats": str(seats),
        "first_name": "Pat",
        "last_name": "Lee",
        "email": "pat@example.com",
        "company_name": "Lee Logistics",
        "special_requirements": "Wheelchair access",
        "submission_token": str(token or uuid.uuid4()),
        "accept_terms": "on",
    }
    for n in range(1, seats + 1):
        data[f"attendee_{n}_name"] = f"Person {n}"
        data[f"attendee_{n}_email"] = f"person{n}@example.com"
    data.update(overrides)
    return data


def test_session_page_shows_everything_a_customer_needs(client):
    session = SessionFactory(capacity=8)
    make_booking(session, seats=3)
    html = client.get(f"/sessions/{session.pk}/").content.decode()
    for text in (session.course.title, session.location.address, "£95.00",
                 session.trainer.get_full_name(), "5 of 8 seats left", "Book now"):
        assert text in html
    assert f"/sessions/{session.pk}/book/" in html


def test_session_page_availability_refreshes_as_a_fragment(client):
    session = SessionFactory(capacity=8)
    response = client.get(f"/sessions/{session.pk}/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and 'hx-trigger="every 15s"' in html
    assert "8 of 8 seats left" in html


@pytest.mark.parametrize(("setup", "message"), [
    ({"capacity": 2}, "Sold out"),
    ({"starts_at_offset": -1}, "already taken place"),
    ({"status": "cancelled"}, "has been cancelled"),
])
def test_sold_out_past_and_cancelled_sessions_cannot_be_booked(client, setup, message):
    offset = setup.pop("starts_at_offset", 10)
    session = SessionFactory(starts_at=timezone.now() + timedelta(days=offset), **setup)
    if session.capacity == 2:
        make_booking(session, seats=2)
    html = client.get(f"/sessions/{session.pk}/").content.decode()
    assert message in html
    assert "Not available to book" in html
    response = client.post(f"/sessions/{session.pk}/book/", form_data(session))
    assert response.status_code == 409
    assert not Booking.objects.filter(purchaser__email="pat@example.com").exists()


def test_query_count_on_the_session_page_is_constant(client):
    small = SessionFactory(capacity=5)
    big = SessionFactory(capacity=200)
    for n in range(20):
        make_booking(big, email=f"b{n}@example.com", seats=3)
    with CaptureQueriesContext(connection) as one:
        client.get(f"/sessions/{small.pk}/")
    with CaptureQueriesContext(connection) as other:
        client.get(f"/sessions/{big.pk}/")
    assert len(one) == len(other) <= 3


def test_booking_form_builds_one_attendee_row_per_seat(client):
    session = SessionFactory()
    html = client.get(f"/sessions/{session.pk}/book/?seats=3").content.decode()
    assert 'name="attendee_3_email"' in html and 'name="attendee_4_email"' not in html
    assert "3 × £95.00" in html and "£285.00" in html


def test_inline_validation_reports_problems_and_creates_nothing(client):
    session = SessionFactory(capacity=3)
    data = form_data(session, seats=2, attendee_2_email="person1@example.com",
                     email="not-an-email")
    response = client.post(f"/sessions/{session.pk}/book/", data, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Enter a valid email address." in html
    assert "already has this email" in html
    assert not Booking.objects.exists()


def test_inline_validation_hides_required_errors_for_fields_not_filled_yet(client):
    session = SessionFactory()
    response = client.post(f"/sessions/{session.pk}/book/", {"seats": "2"},
                           headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "This field is required" not in html
    assert 'name="attendee_2_name"' in html


def test_asking_for_more_seats_than_left_is_refused_clearly(client):
    session = SessionFactory(capacity=5)
    make_booking(session, seats=4, email="first@example.com")
    response = client.post(f"/sessions/{session.pk}/book/", form_data(session, seats=3),
                           headers={"HX-Request": "true"})
    assert "Select a valid choice" in response.content.decode() or \
        "Only 1 seat left" in response.content.decode()


def test_submitting_creates_a_pending_booking_holding_seats_and_users(client):
    session = SessionFactory(capacity=10)
    User.objects.create_user(email="PERSON2@example.com")
    response = client.post(f"/sessions/{session.pk}/book/", form_data(session, seats=2))
    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/bookings/{booking.reference}/"
    assert booking.status == "pending" and booking.seats == 2
    assert booking.total_amount == 2 * session.price
    assert booking.company_name == "Lee Logistics"
    assert booking.special_requirements == "Wheelchair access"
    assert booking.hold_expires_at > timezone.now() + timedelta(minutes=14)
    session.refresh_from_db()
    assert session.seats_taken == 2
    # the existing user was reused, case-insensitively; no duplicates
    assert User.objects.filter(email__iexact="person2@example.com").count() == 1
    assert sorted(booking.attendees.values_list("email", flat=True)) == [
        "person1@example.com", "person2@example.com"]
    assert booking.purchaser.email == "pat@example.com"
    page = client.get(response["Location"])
    assert page.status_code == 200 and booking.reference in page.content.decode()


def test_double_submission_never_creates_a_second_booking(client):
    session = SessionFactory(capacity=10)
    data = form_data(session, seats=2, token=uuid.uuid4())
    first = client.post(f"/sessions/{session.pk}/book/", data)
    second = client.post(f"/sessions/{session.pk}/book/", data)
    assert first["Location"] == second["Location"]
    assert Booking.objects.count() == 1
    session.refresh_from_db()
    assert session.seats_taken == 2


def test_signed_in_customer_gets_the_form_prefilled(client):
    user = User.objects.create_user(email="regular@example.com", first_name="Rae",
                                    last_name="Gill", company_name="Gill Ltd")
    client.force_login(user)
    html = client.get(f"/sessions/{SessionFactory().pk}/book/").content.decode()
    assert 'value="regular@example.com"' in html
    assert 'value="Rae Gill"' in html and 'value="Gill Ltd"' in html


def test_booking_form_requires_csrf(db):
    session = SessionFactory()
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(f"/sessions/{session.pk}/book/", form_data(session))
    assert response.status_code == 403
    assert not Booking.objects.exists()


def test_booking_posts_are_rate_limited_with_a_clear_page(client, settings):
    settings.BOOKING_RATE_LIMIT = "3/m"
    session = SessionFactory(capacity=50)
    codes = [client.post(f"/sessions/{session.pk}/book/",
                         form_data(session, email=f"r{n}@example.com",
                                   attendee_1_email=f"r{n}@example.com")).status_code
             for n in range(4)]
    assert codes[:3] == [302, 302, 302]
    assert codes[3] == 429
    last = client.post(f"/sessions/{session.pk}/book/", form_data(session))
    assert "Too many attempts" in last.content.decode()
    assert Booking.objects.count() == 3


def test_inline_validation_does_not_use_up_the_booking_limit(client, settings):
    settings.BOOKING_RATE_LIMIT = "2/m"
    session = SessionFactory(capacity=50)
    for _ in range(10):
        response = client.post(f"/sessions/{session.pk}/book/", {"seats": "1"},
                               headers={"HX-Request": "true"})
        assert response.status_code == 200
    assert client.post(f"/sessions/{session.pk}/book/",
                       form_data(session)).status_code == 302

def test_a_booking_page_is_only_for_its_people(client):
    booking = make_booking(SessionFactory(), email="owner@example.com", seats=2)
    url = f"/bookings/{booking.reference}/"
    assert client.get(url).status_code == 404  # a stranger with the reference
    stranger = User.objects.create_user(email="stranger@example.com")
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.post(url + "pay/").status_code == 404
    client.force_login(booking.purchaser)
    assert client.get(url).status_code == 200
    attendee = booking.attendees.exclude(user=booking.purchaser).get().user
    client.force_login(attendee)  # attendees see their own seat in the portal, not this page
    assert client.get(url).status_code == 404
    # ...once it is theirs: someone else's unpaid booking is not shown to them at all.
    assert client.get(f"/portal/bookings/{booking.reference}/").status_code == 404
    payment_record_manual(booking=booking, actor=None)
    assert client.get(f"/portal/bookings/{booking.reference}/").status_code == 200


def test_query_count_on_the_booking_page_is_constant(client):
    session = SessionFactory(capacity=40)
    one = make_booking(session, email="one@example.com", seats=1)
    many = make_booking(session, email="many@example.com", seats=10)
    counts = []
    for booking in (one, many):
        client.force_login(booking.purchaser)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/bookings/{booking.reference}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with CaptureQueriesContext(connection) as polled:
        client.get(f"/bookings/{many.reference}/", headers={"HX-Request": "true"})
    assert len(polled) <= counts[1]


def test_an_expired_hold_shows_as_expired_on_its_page(client):
    booking = make_booking(SessionFactory(), email="late@example.com",
                           now=timezone.now() - timedelta(minutes=30))
    client.force_login(booking.purchaser)
    html = client.get(f"/bookings/{booking.reference}/").content.decode()
    assert "Your hold has expired" in html
    booking.refresh_from_db()
    assert booking.status == "expired"
