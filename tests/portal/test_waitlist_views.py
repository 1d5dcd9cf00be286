"""Waiting-list pages over HTTP (#17 item 6): join a sold-out session, claim an offer from
its emailed link, links of claimed and expired offers, leaving, the rate limit."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Booking, WaitingListEntry, WaitingListOffer
from apps.bookings.services import booking_transition
from apps.bookings.waitlist import waitlist_join, waitlist_offer_free_seats
from apps.core.models import Communication
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/waiting-list/\S+/)")


def sold_out(capacity=2):
    session = SessionFactory(capacity=capacity)
    bookings = [make_booking(session, email=f"holder{n}@example.com") for n in range(capacity)]
    return session, bookings


def join_form(**overrides):
    return {"name": "Grace Hopper", "email": "grace@example.com", "seats": "1",
            "consent": "on", **overrides}


def link_in(kind, *, to, which=""):
    body = Communication.objects.filter(kind=kind, recipient=to).latest("pk").body
    return [path for path in LINK.findall(body) if which in path][0]


def offer_for(session, email="grace@example.com", seats=1):
    waitlist_join(session_id=session.pk, name="Grace Hopper", email=email, seats=seats)
    for booking in Booking.objects.filter(session=session, status="pending")[:seats]:
        booking_transition(booking_id=booking.pk, to=Booking.Status.CANCELLED)
    waitlist_offer_free_seats(session_id=session.pk)
    return WaitingListOffer.objects.get(entry__email=email, status="live")


def claim_form(**overrides):
    return {"seats": "1", "first_name": "Grace", "last_name": "Hopper",
            "email": "grace@example.com", "attendee_1_name": "Grace Hopper",
            "attendee_1_email": "grace@example.com", "accept_terms": "on", **overrides}


def test_a_sold_out_session_page_offers_the_waiting_list(client):
    session, _ = sold_out()
    page = client.get(session.get_absolute_url()).content.decode()
    assert f"/sessions/{session.pk}/waiting-list/" in page
    assert "Join the waiting list" in page
    open_session = SessionFactory(capacity=5)
    assert "waiting-list" not in client.get(open_session.get_absolute_url()).content.decode()


def test_joining_shows_the_place_and_emails_a_leave_link(client):
    session, _ = sold_out()
    url = f"/sessions/{session.pk}/waiting-list/"
    form = client.get(url).content.decode()
    for label in ("Your name", "Email", "Seats wanted", "Email me about seats"):
        assert label in form
    response = client.post(url, join_form())
    assert response.status_code == 200
    assert "Your place in the queue" in response.content.decode()
    entry = WaitingListEntry.objects.get()
    assert entry.email == "grace@example.com" and entry.consent_at
    assert link_in(Communication.Kind.WAITLIST_JOINED, to="grace@example.com",
                   which="/leave/")
    # Again with the same address: the entry is updated, not doubled.
    client.post(url, join_form(seats="2", email="GRACE@example.com"))
    assert WaitingListEntry.objects.get().seats == 2


def test_form_errors_are_clear(client):
    session, _ = sold_out(capacity=2)
    url = f"/sessions/{session.pk}/waiting-list/"
    response = client.post(url, join_form(seats="3", email="nope", consent=""))
    page = response.content.decode()
    assert response.status_code == 200
    assert "ask for at most 2" in page
    assert "Enter a valid email address" in page
    assert "Please tick the box" in page
    assert not WaitingListEntry.objects.exists()


def test_joining_while_seats_are_free_says_book_instead(client):
    session = SessionFactory(capacity=3)
    response = client.post(f"/sessions/{session.pk}/waiting-list/", join_form())
    assert response.status_code == 409
    assert "book now instead" in response.content.decode()


def test_joining_is_rate_limited_per_client_address(client, settings):
    settings.WAITLIST_RATE_LIMIT = "2/m"
    session, _ = sold_out()
    url = f"/sessions/{session.pk}/waiting-list/"
    codes = [client.post(url, join_form(email=f"p{n}@example.com")).status_code
             for n in range(3)]
    assert codes == [200, 200, 429]
    assert WaitingListEntry.objects.count() == 2
    other = client.post(url, join_form(email="p9@example.com"), REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200


def test_claiming_an_offer_from_its_email_leads_to_the_payment_page(client):
    session, _ = sold_out()
    offer = offer_for(session)
    path = link_in(Communication.Kind.WAITLIST_OFFER, to="grace@example.com",
                   which="/offer/")
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 seat</strong> is held for you" in html
    assert 'value="grace@example.com"' in html
    assert session.course.title in html
    response = client.post(path, claim_form())
    assert response.status_code == 302
    booking = Booking.objects.get(waitlist_offer=offer)
    assert response["Location"] == booking.get_absolute_url()
    assert client.get(response["Location"]).status_code == 200  # the payment page, theirs
    session.refresh_from_db()
    assert session.seats_taken == 2
    # The link now says plainly that it was used.
    again = client.get(path)
    assert "already been claimed" in again.content.decode()


def test_an_expired_offer_link_says_so_and_frees_the_seat(client):
    session, _ = sold_out()
    offer = offer_for(session)
    path = link_in(Communication.Kind.WAITLIST_OFFER, to="grace@example.com", which="/offer/")
    WaitingListOffer.objects.filter(pk=offer.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(path)
    assert response.status_code == 410
    assert "This offer has expired" in response.content.decode()
    session.refresh_from_db()
    assert session.seats_taken == 1  # released at once, not at the next beat
    assert client.post(path, claim_form()).status_code == 410
    assert not Booking.objects.filter(waitlist_offer=offer).exists()


def test_a_tampered_link_is_a_404(client):
    session, _ = sold_out()
    offer_for(session)
    path = link_in(Communication.Kind.WAITLIST_OFFER, to="grace@example.com", which="/offer/")
    assert client.get(path.replace("/offer/", "/offer/x")).status_code == 404
    assert client.get("/waiting-list/leave/not-a-token/").status_code == 404


def test_leaving_through_the_emailed_link(client):
    session, _ = sold_out()
    offer_for(session)
    path = link_in(Communication.Kind.WAITLIST_OFFER, to="grace@example.com", which="/leave/")
    page = client.get(path).content.decode()
    assert "leaving gives them to the next person" in page
    response = client.post(path)
    assert "You have left the waiting list" in response.content.decode()
    assert WaitingListEntry.objects.get().status == WaitingListEntry.Status.LEFT
    session.refresh_from_db()
    assert session.seats_taken == 1
    assert "not on the waiting list" in client.get(path).content.decode()
