"""The payment page when Stripe.js cannot load (ad blockers and corporate proxies block
js.stripe.com): the customer is told what to do and nothing is submitted anywhere."""

import pytest
from playwright.sync_api import expect

from apps.bookings.models import Booking
from apps.bookings.notifications import payment_link
from apps.payments.models import Payment
from tests.factories import SessionFactory, make_booking

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_blocked_stripe_js_says_what_to_do_and_submits_nothing(page, live_server, fake_stripe,
                                                               screenshot, settings):
    booking = make_booking(SessionFactory(price=9500, course__title="Fire Marshal"),
                           email="blocked@example.com", seats=1)
    link = payment_link(booking).replace(settings.SITE_URL, live_server.url)
    # What an ad blocker does: the request for Stripe.js never gets an answer.
    page.route(settings.STRIPE_JS_URL, lambda route: route.abort("blockedbyclient"))

    page.goto(link)

    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    message = page.locator("#payment-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("The secure card form could not be loaded")
    expect(message).to_contain_text("No money has been taken")
    expect(page.locator("#pay-button")).to_be_disabled()
    screenshot(page, "stripe-js-blocked")
    url_before = page.url

    page.locator("#payment-form").evaluate("form => form.requestSubmit()")

    page.wait_for_timeout(500)
    assert page.url == url_before and "csrfmiddlewaretoken" not in page.url
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.PENDING
    assert not Payment.objects.filter(booking=booking).exists()
    # The blocked script is the only thing that failed to load.
    assert all(settings.STRIPE_JS_URL in error for error in page.errors), page.errors
