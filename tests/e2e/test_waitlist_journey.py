"""A sold-out session's waiting list in a real browser, on a phone and a desktop: join,
a seat frees, the offer link from the recorded email opens the claim page, the claim
reaches the payment page. Screenshots in test-artifacts/e2e/<viewport>/."""

import re

import pytest
from playwright.sync_api import expect

from apps.bookings.models import Booking, WaitingListEntry
from apps.bookings.services import booking_transition
from apps.bookings.waitlist import waitlist_offer_free_seats
from apps.core.models import Communication
from tests.factories import SessionFactory, make_booking

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OFFER_LINK = re.compile(r"http://testserver(/waiting-list/offer/\S+/)")


def test_join_a_sold_out_session_and_claim_the_offered_seat(page, live_server, fake_stripe,
                                                             screenshot):
    session = SessionFactory(capacity=1, price=9500, course__title="Fire Marshal Training")
    holder = make_booking(session, email="holder@example.com")

    page.goto(live_server.url + session.get_absolute_url())
    expect(page.locator("#availability")).to_contain_text("Sold out")
    screenshot(page, "sold-out")
    page.get_by_role("link", name="Join the waiting list").click()
    expect(page).to_have_url(re.compile(rf"/sessions/{session.pk}/waiting-list/$"))
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Email", exact=True).fill("grace@example.com")
    page.get_by_label("Seats wanted").fill("1")
    page.get_by_role("button", name="Join the waiting list").click()
    expect(page.locator(".alert-error, .field-error")).to_have_count(1)  # the consent
    page.get_by_label(re.compile("Email me about seats")).check()
    screenshot(page, "join-form")
    page.get_by_role("button", name="Join the waiting list").click()
    expect(page.get_by_role("heading", name="You are on the waiting list")).to_be_visible()
    expect(page.locator("[data-waitlist-position]")).to_have_text("1")
    screenshot(page, "joined")
    assert WaitingListEntry.objects.get().email == "grace@example.com"

    # The holder's seat comes free; the waiting list gets it.
    booking_transition(booking_id=holder.pk, to=Booking.Status.CANCELLED)
    waitlist_offer_free_seats(session_id=session.pk)
    email = Communication.objects.get(kind=Communication.Kind.WAITLIST_OFFER)
    path = OFFER_LINK.search(email.body).group(1)

    page.goto(live_server.url + path)
    expect(page.locator(".waitlist-offer")).to_contain_text("1 seat is held for you")
    expect(page.get_by_label("Email", exact=True)).to_have_value("grace@example.com")
    screenshot(page, "offer")
    page.get_by_label("I accept the terms and the cancellation policy").check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/bookings/BK-[^/]+/$"))
    booking = Booking.objects.get(session=session, status=Booking.Status.PENDING)
    expect(page.get_by_text(booking.reference).first).to_be_visible()
    screenshot(page, "payment-page")
    session.refresh_from_db()
    assert session.seats_taken == 1

    # The link again: it says plainly that the offer was used.
    page.goto(live_server.url + path)
    expect(page.get_by_role("alert")).to_contain_text("already been claimed")
    screenshot(page, "offer-used")
    assert not page.errors, f"the browser reported errors: {page.errors}"
