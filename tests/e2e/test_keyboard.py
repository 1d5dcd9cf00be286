"""Someone who cannot use a mouse books and pays, and signs in to the portal, with the
keyboard alone (Tab, Shift+Tab, arrow keys, typing, Enter; not one click), on a phone and a
desktop. Every place the focus lands shows a visible focus indicator, and the focus moves
through the page in reading order.

Screenshots of the steps go to test-artifacts/e2e/<viewport>/."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from apps.bookings.models import Booking
from apps.payments.models import Payment
from tests.e2e.test_booking_journey import (  # noqa: F401  (fixtures)
    CONFIRMATION_TIMEOUT_MS,
    GOOD_CARD,
    course_session,
    stripe_webhook,
    wait_for_webhook,
)
from tests.e2e.test_portal_journey import CUSTOMER, paid_group_booking, wait_for_code  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# What has the focus, and whether it can be seen: an outline of at least 2px or a box
# shadow, while the element matches :focus-visible (keyboard focus).
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const label = el.labels && el.labels.length ? el.labels[0].innerText
    : (el.getAttribute('aria-label') || el.placeholder || el.innerText || el.value || '');
  return {
    id: el.id, tag: el.tagName.toLowerCase(), label: label.trim().replace(/\\s+/g, ' '),
    focusVisible: el.matches(':focus-visible'),
    indicator: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
      || style.boxShadow !== 'none',
  };
}"""


def focused(page: Page) -> dict:
    return page.evaluate(FOCUSED)


def tab(page: Page, key: str = "Tab") -> dict:
    """Move the focus one stop and check the new stop can be seen."""
    page.keyboard.press(key)
    where = focused(page)
    assert where["tag"] != "body", f"{key} left the focus nowhere"
    assert where["focusVisible"] and where["indicator"], f"no visible focus on {where}"
    return where


def tab_until(page: Page, matches: str, *, what: str, limit: int = 40) -> list[dict]:
    """Tab forward until `matches` (a JS function of the focused element) holds; returns
    the stops on the way, each checked for a visible focus indicator."""
    stops = []
    for _ in range(limit):
        stops.append(tab(page))
        if page.evaluate(f"({matches})(document.activeElement)"):
            return stops
    raise AssertionError(f"{what} not reached in {limit} Tabs: {stops}")


def tab_to(page: Page, element_id: str, *, limit: int = 40) -> list[dict]:
    return tab_until(page, f"el => el.id === {element_id!r}", what=f"#{element_id}",
                     limit=limit)


def type_into(page: Page, element_id: str, text: str) -> None:
    """Tab to a field (its stop checked), then type into it as a person does."""
    stops = tab_to(page, element_id, limit=1)
    assert stops[-1]["id"] == element_id
    page.keyboard.type(text, delay=15)


def test_booking_and_paying_with_the_keyboard_alone(
        page, live_server, stripe_webhook, course_session, screenshot):  # noqa: F811
    page.goto(f"{live_server.url}/sessions/{course_session.pk}/book/")

    # The skip link comes first and jumps over the site header to the page's content.
    assert tab(page)["label"] == "Skip to content"
    screenshot(page, "skip-link-focused")
    page.keyboard.press("Enter")
    assert tab(page)["label"] == "← Back to the session"

    # Two seats with the arrow key: the form grows a second attendee, focus stays put.
    tab_to(page, "id_seats", limit=1)
    page.keyboard.press("ArrowDown")
    expect(page.locator("#id_attendee_2_name")).to_be_visible()
    expect(page.locator("#id_seats")).to_have_value("2")
    expect(page.locator("[data-total]")).to_have_text("£190.00")
    assert focused(page)["id"] == "id_seats", "the focus was lost when the form grew"

    # "I am attending" comes next; Priya books for two colleagues, so it stays unticked.
    assert tab_to(page, "id_i_am_attending", limit=1)[-1]["id"] == "id_i_am_attending"
    for field, text in [
        ("id_attendee_1_name", "Tom Baker"), ("id_attendee_1_email", "tom@acme.example"),
        ("id_attendee_2_name", "Amira Khan"), ("id_attendee_2_email", "amira@acme.example"),
        ("id_first_name", "Priya"), ("id_last_name", "Shah"),
        ("id_email", "priya@acme.example"),
    ]:
        type_into(page, field, text)
    # A slip noticed: back with Shift+Tab to the surname, select it all, retype.
    assert tab(page, "Shift+Tab")["id"] == "id_last_name"
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Shah-Patel", delay=15)
    # Then on, in reading order, past the optional fields.
    stops = tab_to(page, "id_special_requirements", limit=4)
    assert [s["id"] for s in stops] == ["id_email", "id_phone", "id_company_name",
                                       "id_special_requirements"]
    page.keyboard.type("Step-free access, please.", delay=15)
    # Leaving the field runs the inline check, which re-renders the whole form while the
    # focus has moved on (past the optional discount code and the terms and privacy links)
    # to the acceptance checkbox: the focus must still be there afterwards.
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        stops = tab_to(page, "id_accept_terms", limit=4)
    assert [s["label"] for s in stops] == [
        "Discount code (optional)", "Terms and conditions", "Privacy notice",
        "I accept the terms and the cancellation policy"]
    expect(page.locator(".htmx-request, .htmx-settling, .htmx-swapping")).to_have_count(0)
    assert focused(page)["id"] == "id_accept_terms", "the inline check took the focus away"
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        page.keyboard.press("Space")  # ticked: another inline check
    expect(page.locator(".htmx-request, .htmx-settling, .htmx-swapping")).to_have_count(0)
    expect(page.locator("#id_accept_terms")).to_be_checked()
    assert tab(page)["label"] == "Continue to payment"
    screenshot(page, "form-filled-button-focused")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    reference = page.locator("[data-reference]").inner_text().strip()
    booking = Booking.objects.get(reference=reference)
    assert booking.purchaser.last_name == "Shah-Patel"
    assert booking.special_requirements == "Step-free access, please."
    assert sorted(booking.attendees.values_list("name", "email")) == [
        ("Amira Khan", "amira@acme.example"), ("Tom Baker", "tom@acme.example")]

    # The Payment Element's fields (Stripe's, here the fake's double), then Enter on Pay.
    expect(page.locator("#payment-element input").first).to_be_visible()
    assert tab(page)["label"] == "Skip to content"
    for field, value in [("number", GOOD_CARD), ("expiry", "12 / 30"), ("cvc", "123"),
                         ("postal_code", "LS1 4AP")]:
        tab_to(page, f"stripe-double-{field}")
        page.keyboard.type(value)
    assert tab(page)["id"] == "pay-button"
    screenshot(page, "pay-button-focused")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="You're booked!")).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS)
    screenshot(page, "booked")
    payment = Payment.objects.get(booking=booking, status=Payment.Status.SUCCEEDED)
    wait_for_webhook("payment_intent.succeeded", payment)
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_signing_in_by_code_with_the_keyboard_alone(
        page, live_server, paid_group_booking, screenshot):  # noqa: F811
    page.goto(live_server.url + "/portal/")
    expect(page).to_have_url(re.compile(r"/accounts/login/code/\?next=/portal/$"))
    stops = tab_to(page, "id_email", limit=15)
    assert stops[0]["label"] == "Skip to content"
    sent_before = len(mail.outbox)
    page.keyboard.type(CUSTOMER)
    assert tab(page)["label"] == "Request Code"
    screenshot(page, "request-code-focused")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/accounts/login/code/confirm/"))
    code = wait_for_code(CUSTOMER, sent_before=sent_before)
    code_field = page.locator("input[name='code']")
    tab_to(page, code_field.get_attribute("id"))
    page.keyboard.type(code)
    screenshot(page, "code-typed")
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + "/portal/")
    expect(page.locator(".session-card", has_text=paid_group_booking.reference)).to_be_visible()

    # From the portal's page to the booking, still by keyboard.
    title = paid_group_booking.session.course.title
    tab_until(page, f"el => el.tagName === 'A' && el.textContent.trim() === {title!r}",
              what="the booking's link")
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + f"/portal/bookings/{paid_group_booking.reference}/")
    screenshot(page, "booking-opened")
    assert not page.errors, f"the browser reported errors: {page.errors}"
