"""In a real browser on a phone and a desktop: a customer moves their booking to another
date (cheaper: the difference comes back), and a purchaser cancels one colleague's place
(refunded by the policy). Screenshots go to test-artifacts/e2e/<viewport>/."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from apps.bookings.models import Attendee, Booking
from apps.payments.services import payment_record_manual
from apps.refunds.models import Refund
from tests.factories import LocationFactory, SessionFactory, make_booking

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CUSTOMER = "morgan@example.com"


def signed_in(page, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([
        {"name": cookie, "value": client.cookies[cookie].value, "url": live_server.url}])


@pytest.fixture
def group_booking():
    """Three seats at £95.00, paid by invoice, 30 days out; two more dates of the course."""
    start = timezone.localtime() + timedelta(days=30)
    session = SessionFactory(price=9500, starts_at=start.replace(hour=9, minute=0, second=0,
                                                                 microsecond=0))
    SessionFactory(course=session.course, price=8500, location=LocationFactory(city="Leeds"),
                   starts_at=session.starts_at + timedelta(days=7))
    SessionFactory(course=session.course, price=9500,
                   starts_at=session.starts_at + timedelta(days=14))
    booking = make_booking(session, email=CUSTOMER, seats=3)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    return booking


def test_a_customer_moves_their_booking_to_another_date(page, live_server, group_booking,
                                                        screenshot):
    signed_in(page, live_server, group_booking.purchaser)
    page.goto(live_server.url + f"/portal/bookings/{group_booking.reference}/")
    screenshot(page, "booking")
    page.get_by_role("link", name="Change date…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Change the date")
    expect(page.locator(".session-card")).to_have_count(2)
    expect(page.locator(".session-card").first).to_contain_text("£30.00 back to you")
    screenshot(page, "dates")
    page.locator(".session-card").first.get_by_role("link").click()
    expect(page.locator("[data-consequence]")).to_contain_text(
        "£30.00 will be refunded to Invoice")
    screenshot(page, "confirm")
    page.get_by_role("button", name="Yes, move").click()
    expect(page.locator(".message-success, .message").first).to_contain_text(
        "£30.00 will be refunded")
    expect(page.locator(".facts")).to_contain_text("3 × £85.00 = £255.00")
    screenshot(page, "moved")
    booking = Booking.objects.get(pk=group_booking.pk)
    assert booking.session.price == 8500 and booking.total_amount == 25500
    assert Refund.objects.get().amount == 3000
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_a_purchaser_cancels_one_colleagues_place(page, live_server, group_booking,
                                                  screenshot):
    signed_in(page, live_server, group_booking.purchaser)
    page.goto(live_server.url + f"/portal/bookings/{group_booking.reference}/")
    page.get_by_role("link", name="Cancel Guest 1's place").click()
    expect(page.locator("[data-refund]")).to_have_text("£95.00")
    screenshot(page, "confirm")
    page.get_by_role("button", name="Yes, cancel this place and refund £95.00").click()
    expect(page.locator(".message-success, .message").first).to_contain_text(
        "Guest 1's place is cancelled")
    expect(page.locator(".attendee-list li")).to_have_count(2)
    expect(page.locator(".facts")).to_contain_text("2 × £95.00 = £190.00")
    screenshot(page, "cancelled")
    guest = Attendee.all_objects.get(booking=group_booking, name="Guest 1")
    assert guest.cancelled_at is not None
    assert Refund.objects.get().amount == 9500
    assert not page.errors, f"the browser reported errors: {page.errors}"
