"""A customer types a discount code on the booking form (a wrong one first), sees the price
breakdown, pays the discounted total by card and sees the breakdown on the confirmation
and in the confirmation email. Phone and desktop viewports (the `viewport` fixture)."""

import re

import pytest
from playwright.sync_api import expect

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.pricing.models import DiscountCode, GroupDiscount
from tests.e2e.test_booking_journey import (  # noqa: F401  (fixtures)
    ATTENDEES,
    PURCHASER,
    course_session,
    fill_card,
    stripe_webhook,
    wait_for_webhook,
)
from tests.pricing.helpers import make_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def after_inline_check(page):
    expect(page.locator("#booking-form-fields.htmx-request")).to_have_count(0)
    expect(page.locator(".htmx-settling, .htmx-swapping")).to_have_count(0)


def inline_check(page, action):
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.request.headers.get("hx-request") == "true"
    ):
        action()
    after_inline_check(page)


def test_customer_applies_a_code_sees_the_breakdown_and_pays(
        page, live_server, stripe_webhook, course_session, screenshot):  # noqa: F811
    GroupDiscount.objects.create(min_seats=2, percent=10)
    make_code("TEAM15", percent=15, max_uses=10)
    page.goto(f"{live_server.url}/sessions/{course_session.pk}/book/")
    inline_check(page, lambda: page.get_by_label("Number of seats").select_option("2"))
    expect(page.locator("[data-total]")).to_have_text("£171.00")  # 190 less 10%

    for n, (name, email) in enumerate(ATTENDEES, start=1):
        page.get_by_label(f"Attendee {n}: full name").fill(name)
        page.get_by_label(f"Attendee {n}: email").fill(email)
    page.get_by_label("First name").fill(PURCHASER["first_name"])
    page.get_by_label("Last name").fill(PURCHASER["last_name"])
    page.get_by_label("Email", exact=True).fill(PURCHASER["email"])

    code = page.get_by_label("Discount code (optional)")
    code.fill("TEAM51")  # a typo
    inline_check(page, lambda: page.get_by_role("heading", level=1).click())
    expect(page.locator("#id_discount_code_error")).to_contain_text(
        "“TEAM51” is not a discount code we know")
    expect(page.get_by_label("Attendee 2: full name")).to_have_value(ATTENDEES[1][0])
    screenshot(page, "discount-code-wrong")

    code.fill("team15")
    inline_check(page, lambda: page.get_by_role("heading", level=1).click())
    expect(page.locator("#id_discount_code_error")).to_have_count(0)
    summary = page.get_by_role("complementary", name="Order summary")
    expect(summary).to_contain_text("Group price: 10% off from 2 seats")
    expect(summary).to_contain_text("Code TEAM15: 15% off")
    # 190.00 - 19.00 = 171.00; 15% of 171.00 = 25.65
    expect(page.locator("[data-total]")).to_have_text("£145.35")
    page.get_by_label("I accept the terms and the cancellation policy").check()
    screenshot(page, "discount-code-applied")

    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/bookings/[^/]+/$"))
    breakdown = page.locator("[data-price-breakdown]")
    expect(breakdown).to_contain_text("Code TEAM15: 15% off")
    expect(breakdown).to_contain_text("−£25.65")
    expect(page.locator("#pay-button")).to_have_text("Pay £145.35")
    fill_card(page, "4242424242424242")
    page.locator("#pay-button").click()
    expect(page.get_by_role("heading", name="You're booked!")).to_be_visible(timeout=20_000)
    expect(page.locator("#booking-status")).to_contain_text("Paid £145.35")
    expect(page.locator("[data-price-breakdown]")).to_contain_text("Group price")
    screenshot(page, "discount-confirmation")

    booking = Booking.objects.get()
    assert (booking.list_amount, booking.total_amount, booking.status) == (19000, 14535,
                                                                           "paid")
    assert DiscountCode.objects.get(code="TEAM15").uses == 1
    email = Communication.objects.get(booking=booking, recipient=PURCHASER["email"],
                                      kind=Communication.Kind.BOOKING_CONFIRMATION)
    assert "Code TEAM15: 15% off: −£25.65" in email.body
    assert "Paid:       £145.35" in email.body
    wait_for_webhook("payment_intent.succeeded", booking.payments.get())
    assert not page.errors, f"the browser reported errors: {page.errors}"
