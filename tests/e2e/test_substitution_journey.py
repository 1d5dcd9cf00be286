"""From the emailed links, in a real browser (phone and desktop), never signing in: the
purchaser hands a seat to a colleague, and the colleague opens their own email's link and
sees only their seat (#17 items 2 and 3). Screenshots in test-artifacts/e2e/<viewport>/."""

import re

import pytest
from playwright.sync_api import expect

from apps.core.models import Communication
from tests.bookings.notify_helpers import book, pay
from tests.e2e.conftest import new_page
from tests.factories import SessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BOOKING_LINK = re.compile(r"http://testserver(/portal/b/\S+/)")


def _link(recipient, kind=Communication.Kind.BOOKING_CONFIRMATION):
    email = Communication.objects.filter(recipient=recipient, kind=kind).latest("pk")
    return BOOKING_LINK.search(email.body).group(1)


def _fits(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), \
        "the page is wider than the screen"


def test_a_purchaser_substitutes_a_colleague_who_then_sees_only_their_seat(
        browser, viewport, page, live_server, screenshot):
    session = SessionFactory(capacity=8, price=9500, course__title="Emergency First Aid at Work")
    booking = pay(book(session, purchaser=("Priya Shah", "priya@example.com"),
                       attendees=[("Tom Baker", "tom@example.com"),
                                  ("Sara Lind", "sara@example.com")]))

    # The purchaser opens the link in her confirmation email, signed out.
    page.goto(live_server.url + _link("priya@example.com"))
    expect(page.get_by_role("heading", name="Emergency First Aid at Work")).to_be_visible()
    expect(page.get_by_role("heading", name="Payments")).to_be_visible()
    screenshot(page, "purchaser-link")
    _fits(page)
    page.get_by_role("link", name="Substitute Tom Baker").click()
    expect(page.get_by_role("heading", name="Send someone else instead of Tom Baker")) \
        .to_be_visible()
    page.get_by_label("Their full name").fill("Nina Patel")
    page.get_by_label("Their email address").fill("nina@example.com")
    screenshot(page, "substitute-form")
    _fits(page)
    page.get_by_role("button", name="Give the seat to this person").click()
    expect(page.locator(".message-success")).to_contain_text(
        "Nina Patel now has the seat that was Tom Baker's")
    attendees = page.locator(".attendee-list")
    expect(attendees).to_contain_text("Nina Patel")
    expect(attendees).not_to_contain_text("Tom Baker")
    screenshot(page, "substituted")
    assert page.errors == [], page.errors

    # Nina opens the link in the email she was just sent, in her own browser.
    colleague = new_page(browser, viewport)
    try:
        colleague.goto(live_server.url + _link("nina@example.com"))
        expect(colleague.get_by_role("heading", name="Your seat")).to_be_visible()
        expect(colleague.locator("main")).to_contain_text("Nina Patel")
        expect(colleague.get_by_role("heading", name="Payments")).to_have_count(0)
        for hidden in ("Sara Lind", "sara@example.com", "Tom Baker", "View receipt",
                       "Cancel this booking", "Substitute"):
            expect(colleague.locator("main")).not_to_contain_text(hidden)
        expect(colleague.get_by_role("link", name="Add to my calendar (.ics)")).to_be_visible()
        screenshot(colleague, "colleague-seat")
        _fits(colleague)
        # Tom's old link now says it no longer opens the booking, and offers a fresh one.
        tom_link = _link("tom@example.com")
        colleague.goto(live_server.url + tom_link)
        expect(colleague.get_by_role("heading",
                                     name="This link no longer opens the booking")).to_be_visible()
        expect(colleague.get_by_role("button", name="Email me a fresh link")).to_be_visible()
        screenshot(colleague, "old-link")
        _fits(colleague)
    finally:
        colleague.context.close()
    assert Communication.objects.filter(recipient="tom@example.com",
                                        kind=Communication.Kind.BOOKING_CANCELLED).exists()
    assert booking.attendees.filter(email="nina@example.com").exists()
