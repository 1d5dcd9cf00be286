"""In a real browser on a phone and a desktop: a customer moves their paid booking to a
dearer date, sees what is still to pay, pays it by card on the balance page, and then
their booking owes nothing. Screenshots go to test-artifacts/e2e/<viewport>/."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.payments.selectors import booking_balance_due
from apps.payments.services import payment_record_manual
from tests.e2e.test_booking_changes_journey import signed_in
from tests.e2e.test_booking_journey import GOOD_CARD, fill_card
from tests.factories import SessionFactory, make_booking

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def booking_before_a_dearer_date():
    """Two seats at £95.00, paid by invoice, 30 days out; a £110.00 date a week later."""
    start = timezone.localtime() + timedelta(days=30)
    session = SessionFactory(price=9500, starts_at=start.replace(hour=9, minute=0, second=0,
                                                                 microsecond=0))
    SessionFactory(course=session.course, price=11000,
                   starts_at=session.starts_at + timedelta(days=7))
    booking = make_booking(session, email="robin@example.com", seats=2)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    return booking


def test_a_customer_moves_to_a_dearer_date_and_pays_the_balance(
        page, live_server, fake_stripe, booking_before_a_dearer_date, screenshot):
    booking = booking_before_a_dearer_date
    signed_in(page, live_server, booking.purchaser)
    page.goto(live_server.url + f"/portal/bookings/{booking.reference}/")
    page.get_by_role("link", name="Change date…").click()
    expect(page.locator(".session-card")).to_have_count(1)
    page.locator(".session-card").first.get_by_role("link").click()
    expect(page.locator("[data-consequence]")).to_contain_text("£30.00 will be left to pay")
    page.get_by_role("button", name="(£30.00 more)").click()

    expect(page.locator("[data-balance-due]")).to_contain_text("£30.00 still to pay")
    screenshot(page, "balance-owed")
    page.get_by_role("link", name="Pay £30.00").click()

    expect(page.get_by_role("heading", name="Pay the balance")).to_be_visible()
    expect(page.get_by_label("Card number")).to_be_visible()
    fill_card(page, GOOD_CARD)
    screenshot(page, "balance-card")
    page.get_by_role("button", name="Pay £30.00").click()

    expect(page.get_by_role("heading", name="Nothing more to pay")).to_be_visible(
        timeout=20_000)
    expect(page.locator("[data-paid-in-full]")).to_contain_text("Visa card ending 4242")
    screenshot(page, "balance-paid")
    page.get_by_role("link", name="Back to your booking").click()
    expect(page.locator("[data-status]").first).to_have_text("Paid")
    expect(page.locator("[data-balance-due]")).to_have_count(0)
    expect(page.get_by_role("link", name="Pay £30.00")).to_have_count(0)

    booking = Booking.objects.get(pk=booking.pk)
    assert booking.status == Booking.Status.PAID and booking.total_amount == 22000
    assert booking_balance_due(booking=booking) == 0
    balance = Payment.objects.get(booking=booking, purpose=Payment.Purpose.BALANCE)
    assert (balance.amount, balance.status, balance.card_last4) == (3000, "succeeded", "4242")
    assert Communication.objects.filter(booking=booking,
                                        kind=Communication.Kind.PAYMENT_RECEIVED).count() == 1
    assert not page.errors, f"the browser reported errors: {page.errors}"
