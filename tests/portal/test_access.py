"""Emailed booking links (#17 item 2): a signed key per recipient opens the booking with no
sign-in; the purchaser manages it, an attendee sees only their seat; expired or broken
links offer a fresh one without telling anyone who is on a booking."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from apps.bookings.access import SALT, booking_link, booking_link_token
from apps.bookings.models import Attendee, Booking
from apps.bookings.services import attendance_mark
from apps.bookings.substitution import attendee_substitute
from apps.certificates.services import certificates_issue_for_booking
from apps.core.models import Communication
from apps.users.models import User
from tests.bookings.notify_helpers import book, pay
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking():
    session = SessionFactory(capacity=10)
    return pay(book(session, purchaser=("Pat Buyer", "pat@example.com"),
                    attendees=[("Ann Attendee", "ann@example.com"),
                               ("Bob Other", "bob@example.com")]))


def _path(booking, email, **kwargs):
    return booking_link(booking=booking, email=email, **kwargs).removeprefix(
        "http://testserver")


def test_the_purchasers_link_opens_the_whole_booking_signed_out(booking):
    response = Client().get(_path(booking, "pat@example.com"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h2>Payments</h2>" in page and "View receipt" in page
    assert "ann@example.com" in page and "bob@example.com" in page
    assert "Cancel this booking" in page and "Substitute…" in page
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_purchasers_link_gives_receipts_and_cancellation(booking):
    client = Client()
    base = _path(booking, "PAT@example.com")
    assert client.get(base + "receipt/").status_code == 200
    assert client.get(base + "receipt.pdf")["Content-Type"] == "application/pdf"
    page = client.get(base + "cancel/")
    assert page.status_code == 200
    amount = re.search(rb'name="confirmed_amount" value="(\d+)"', page.content).group(1)
    done = client.post(base + "cancel/", {"confirmed_amount": amount.decode()})
    assert done.status_code == 302 and done["Location"] == base
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_an_attendees_link_shows_their_seat_and_nothing_else(booking):
    client = Client()
    base = _path(booking, "ann@example.com")
    response = client.get(base)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Your seat" in page and "Ann Attendee" in page
    assert booking.session.location.name in page
    for hidden in ("bob@example.com", "Bob Other", "<h2>Payments</h2>", "View receipt",
                   "Cancel this booking", "Substitute…"):
        assert hidden not in page, hidden
    # The purchaser's actions are not theirs.
    seat = booking.attendees.get(email="bob@example.com")
    for path in ("receipt/", "receipt.pdf", "cancel/", f"substitute/{seat.pk}/"):
        assert client.get(base + path).status_code == 404, path
    # Their own calendar entry.
    ics = client.get(base + "calendar.ics")
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
    ann = booking.attendees.get(email="ann@example.com")
    assert f"{booking.reference}-seat-{ann.pk}@" in ics.content.decode()
    assert "ann@example.com" in ics.content.decode().lower()


def test_an_attendee_downloads_their_own_certificate_only(booking):
    session = booking.session
    attendance_mark(attendee_ids=[a.pk for a in booking.attendees.all()],
                    attendance=Attendee.Attendance.ATTENDED,
                    now=session.ends_at + timedelta(hours=1))
    ann_cert, bob_cert = sorted(certificates_issue_for_booking(booking_id=booking.pk),
                                key=lambda c: c.attendee.email)
    base = _path(booking, "ann@example.com", now=session.ends_at + timedelta(hours=2))
    page = Client().get(base).content.decode()
    assert ann_cert.number in page and bob_cert.number not in page
    assert Client().get(base + f"certificates/{ann_cert.number}.pdf").status_code == 200
    assert Client().get(base + f"certificates/{bob_cert.number}.pdf").status_code == 404


def test_signed_in_as_someone_else_the_link_still_grants_only_its_view(booking):
    bob = User.objects.get(email="bob@example.com")
    client = Client()
    client.force_login(bob)
    page = client.get(_path(booking, "ann@example.com")).content.decode()
    assert "Ann Attendee" in page and "bob@example.com" not in page
    assert "data-link-note" in page  # says whose view this is
    # Bob's own portal is unaffected, and he cannot reach the purchaser's receipt.
    assert client.get(f"/portal/bookings/{booking.reference}/receipt/").status_code == 404


def test_a_tampered_link_offers_a_fresh_one_and_reveals_nothing(booking):
    token = booking_link_token(booking=booking, email="ann@example.com")
    forged = signing.dumps({"r": booking.reference, "e": "pat@example.com", "x": 4102444800},
                           salt="another-salt", compress=True)
    for bad in (token[:-3] + "abc", forged, "nonsense"):
        response = Client().get(f"/portal/b/{bad}/")
        assert response.status_code == 404
        page = response.content.decode()
        assert "We could not open this link" in page and "Email me a fresh link" in page
        assert booking.reference not in page


def test_a_link_works_until_after_the_session_then_offers_a_fresh_one(booking, settings):
    settings.BOOKING_LINK_DAYS = 30
    sent = timezone.now()
    path = _path(booking, "ann@example.com", now=sent)
    later = booking.session.ends_at + timedelta(days=29)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert Client().get(path).status_code == 200
    expired = booking.session.ends_at + timedelta(days=31)
    with mock.patch("django.utils.timezone.now", return_value=expired):
        response = Client().get(path)
    assert response.status_code == 410
    page = response.content.decode()
    assert "This link has expired" in page
    assert f'name="reference" value="{booking.reference}"' in page
    assert 'name="email" value="ann@example.com"' in page


def _neutral(response, email):
    """The page with the address typed and the per-response CSRF token taken out."""
    page = response.content.decode().replace(email, "ADDRESS")
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", page)


def test_a_fresh_link_goes_only_to_an_address_on_the_booking_same_answer_for_all(booking):
    client = Client()
    answers = []
    for email in ("ann@example.com", "stranger@example.com", "pat@example.com"):
        response = client.post("/portal/link/", {"reference": booking.reference.lower(),
                                                 "email": email})
        assert response.status_code == 200
        answers.append(_neutral(response, email))
    response = client.post("/portal/link/", {"reference": "BK-NOSUCH", "email": "x@example.com"})
    answers.append(_neutral(response, "x@example.com"))
    assert len(set(answers)) == 1
    sent = Communication.objects.filter(kind=Communication.Kind.BOOKING_LINK)
    assert sorted(sent.values_list("recipient", flat=True)) == ["ann@example.com",
                                                               "pat@example.com"]
    fresh = sent.get(recipient="ann@example.com")
    (link,) = re.findall(r"http://testserver(/portal/b/\S+)", fresh.body)
    assert "Your seat" in Client().get(link).content.decode()


def test_asking_for_fresh_links_is_rate_limited(booking, settings):
    settings.BOOKING_LINK_RESEND_RATE_LIMIT = "3/h"
    client = Client()
    codes = [client.post("/portal/link/", {"reference": booking.reference,
                                           "email": f"n{i}@example.com"}).status_code
             for i in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/portal/link/").status_code == 405


def test_a_seat_given_away_takes_the_old_link_with_it(booking):
    old = _path(booking, "ann@example.com")
    seat = booking.attendees.get(email="ann@example.com")
    attendee_substitute(attendee_id=seat.pk, name="Nina New", email="nina@example.com",
                        actor=booking.purchaser)
    response = Client().get(old)
    assert response.status_code == 410
    page = response.content.decode()
    assert "no longer opens the booking" in page and "Nina" not in page
    assert "Nina New" in Client().get(_path(booking, "nina@example.com")).content.decode()


def test_the_purchaser_substitutes_from_the_link(booking):
    client = Client()
    base = _path(booking, "pat@example.com")
    seat = booking.attendees.get(email="ann@example.com")
    form = client.get(base + f"substitute/{seat.pk}/")
    assert form.status_code == 200
    assert "Ann Attendee" in form.content.decode() and "no longer theirs" in form.content.decode()
    # Someone already on the session: a form error, nothing changed.
    refused = client.post(base + f"substitute/{seat.pk}/", {
        "name": "Bob Other", "email": "bob@example.com", "replacing": "ann@example.com"})
    assert refused.status_code == 200 and "already has a seat" in refused.content.decode()
    done = client.post(base + f"substitute/{seat.pk}/", {
        "name": "Nina New", "email": "nina@example.com", "replacing": "ann@example.com"})
    assert done.status_code == 302 and done["Location"] == base
    seat.refresh_from_db()
    assert seat.email == "nina@example.com"
    page = client.get(base).content.decode()
    assert "Nina New now has the seat" in page


def test_signed_in_purchasers_substitute_from_the_portal_until_the_cut_off(booking, settings):
    client = Client()
    client.force_login(booking.purchaser)
    seat = booking.attendees.get(email="ann@example.com")
    url = f"/portal/bookings/{booking.reference}/substitute/{seat.pk}/"
    assert "Substitute…" in client.get(f"/portal/bookings/{booking.reference}/")\
        .content.decode()
    settings.SUBSTITUTION_CUTOFF_HOURS = 24 * 30  # the session is 10 days away: too late
    late = client.get(url).content.decode()
    assert "until 720 hours before the start" in late and "Give the seat" not in late
    response = client.post(url, {"name": "Nina New", "email": "nina@example.com",
                                 "replacing": "ann@example.com"})
    assert response.status_code == 409
    settings.SUBSTITUTION_CUTOFF_HOURS = 24
    response = client.post(url, {"name": "Nina New", "email": "nina@example.com",
                                 "replacing": "ann@example.com"})
    assert response.status_code == 302
    # An attendee cannot substitute, even signed in.
    bob = Client()
    bob.force_login(User.objects.get(email="bob@example.com"))
    assert bob.get(url).status_code == 404


def test_the_key_names_the_booking_and_the_address_only(booking):
    payload = signing.loads(booking_link_token(booking=booking, email="Ann@Example.com"),
                            salt=SALT)
    assert set(payload) == {"r", "e", "x"}
    assert payload["e"] == "ann@example.com" and payload["r"] == booking.reference
