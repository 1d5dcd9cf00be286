"""Issue 17 item 1 in a real browser (phone and desktop): before paying, a customer sees
the cancellation policy with this session's dates, can read the terms, and must tick the
acceptance to book."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.bookings.models import Booking
from apps.legal.services import legal_document_create
from tests.factories import SessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def local_deadline(session, days):
    local = session.starts_at.astimezone(ZoneInfo(settings.TIME_ZONE))
    return (local - timedelta(days=days)).strftime("%a %-d %b %H:%M")


def test_a_customer_sees_the_policy_with_dates_before_paying_and_must_accept_it(
        page: Page, live_server, fake_stripe, screenshot):
    session = SessionFactory(capacity=10, price=9500, starts_at=timezone.now() + timedelta(days=30),
                             course__title="Fire Marshal Training")
    # Transactional tests flush the rows the migration published: publish them here.
    terms = legal_document_create(kind="terms", body="Cancel in your portal.",
                                  published_at=timezone.now())
    policy = (f"Full refund if you cancel until {local_deadline(session, 14)}, 50 % until "
              f"{local_deadline(session, 7)}, no refund after.")

    page.goto(f"{live_server.url}/sessions/{session.pk}/")
    expect(page.locator("[data-cancellation-policy]")).to_contain_text(policy)
    screenshot(page, "session-page-policy")

    page.get_by_role("link", name="Book now").click()
    expect(page.locator("[data-cancellation-policy]")).to_contain_text(policy)
    # The terms open beside the form, which keeps what was typed.
    with page.context.expect_page() as terms_tab:
        page.locator("[data-cancellation-policy]").get_by_role(
            "link", name="Terms and conditions").click()
    expect(terms_tab.value.get_by_role("heading", level=1)).to_have_text("Terms and conditions")
    expect(terms_tab.value.locator(".legal-document")).to_contain_text("Cancel in your portal.")
    terms_tab.value.close()

    page.get_by_label("Attendee 1: full name").fill("Priya Shah")
    page.get_by_label("Attendee 1: email").fill("priya@acme.example")
    page.get_by_label("First name").fill("Priya")
    page.get_by_label("Last name").fill("Shah")
    page.get_by_label("Email", exact=True).fill("priya@acme.example")
    page.get_by_role("button", name="Continue to payment").click()

    # Not ticked: the form comes back with the reason, and nothing is booked.
    error = page.locator("#id_accept_terms_error")
    expect(error).to_have_text("Please tick the box to accept the terms and the cancellation "
                               "policy: we cannot book without it.")
    assert not Booking.objects.filter(session=session).exists()
    expect(page.get_by_label("Attendee 1: email")).to_have_value("priya@acme.example")
    screenshot(page, "acceptance-missing")

    page.get_by_label("I accept the terms and the cancellation policy").check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/bookings/[^/]+/$"))
    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    expect(page.locator("[data-cancellation-policy]")).to_contain_text(policy)
    screenshot(page, "payment-page-policy")

    booking = Booking.objects.get(session=session)
    assert booking.terms_accepted_at is not None and booking.terms_document == terms
    assert page.errors == [], page.errors
