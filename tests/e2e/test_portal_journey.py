"""A customer who paid for a group booking (by invoice) signs in with an emailed code, looks
at the booking and its receipts, and cancels it for a full refund, in a real browser against
the live server. Another customer cannot open that booking at all.

Screenshots of every step go to test-artifacts/e2e/<viewport>/ (git-ignored)."""

import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.bookings.models import Booking
from apps.payments.services import payment_record_manual
from apps.refunds.models import Refund
from apps.users.models import User
from tests.factories import SessionFactory, make_booking

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
# DJANGO_ALLOW_ASYNC_UNSAFE is set for these tests by a module-scoped fixture in
# tests/e2e/conftest.py (see there why).

CUSTOMER = "customer@example.com"
CODE_RE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.M)
MAIL_TIMEOUT_S = 10


@pytest.fixture
def paid_group_booking():
    """Two seats at £95.00, paid by invoice, 30 days out: cancelling now refunds 100%."""
    session = SessionFactory(price=9500, starts_at=timezone.now() + timedelta(days=30))
    booking = make_booking(session, email=CUSTOMER, seats=2)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID
    return booking


def wait_for_code(email: str, *, sent_before: int) -> str:
    """The live server sends the code from its own thread into the shared locmem outbox."""
    deadline = time.monotonic() + MAIL_TIMEOUT_S
    while True:
        for message in mail.outbox[sent_before:]:
            if email in message.to:
                match = CODE_RE.search(message.body)
                assert match, f"no code in the sign-in email:\n{message.body}"
                return match.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no sign-in code mailed to {email} after {MAIL_TIMEOUT_S}s "
                f"(outbox: {[(m.to, m.subject) for m in mail.outbox]})"
            )
        time.sleep(0.1)


def sign_in_with_code(page: Page, live_server, email: str, shot) -> None:
    """/portal/ → sign-in-by-code page → code from the email → back on /portal/."""
    page.goto(live_server.url + "/portal/")
    expect(page).to_have_url(re.compile(r"/accounts/login/code/\?next=/portal/$"))
    shot(page, "sign-in-request-code")

    sent_before = len(mail.outbox)
    page.locator("input[name='email']").fill(email)
    page.get_by_role("button", name="Request Code").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/code/confirm/"))
    code_field = page.locator("input[name='code']")
    expect(code_field).to_be_visible()
    code = wait_for_code(email, sent_before=sent_before)
    shot(page, "sign-in-enter-code")

    code_field.fill(code)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(live_server.url + "/portal/")


def test_customer_signs_in_views_receipts_and_cancels_for_a_full_refund(
    page, live_server, paid_group_booking, screenshot
):
    booking = paid_group_booking
    reference = booking.reference
    attendees = list(booking.attendees.values_list("name", "email"))
    assert len(attendees) == 2

    # Sign in by code, land on the portal with the booking listed.
    sign_in_with_code(page, live_server, CUSTOMER, screenshot)
    row = page.locator(".session-card", has_text=reference)
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("Paid")
    expect(row.locator(".price")).to_have_text("£190.00")
    screenshot(page, "portal-home")

    # The booking: both attendees, the payment, the quote.
    row.get_by_role("link", name=booking.session.course.title).click()
    expect(page).to_have_url(live_server.url + f"/portal/bookings/{reference}/")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "paid")
    expect(page.locator(".facts")).to_contain_text(reference)
    expect(page.locator(".facts")).to_contain_text("2 × £95.00 = £190.00")
    attendee_list = page.locator("article.panel ul").first
    expect(attendee_list.locator("li")).to_have_count(2)
    for name, email in attendees:
        expect(attendee_list).to_contain_text(name)
        expect(attendee_list).to_contain_text(email)
    cancel_panel = page.get_by_role("complementary", name="Cancel")
    expect(cancel_panel).to_contain_text("£190.00")
    screenshot(page, "booking")

    # The HTML receipt, then back.
    page.get_by_role("link", name="View receipt").click()
    expect(page).to_have_url(live_server.url + f"/portal/bookings/{reference}/receipt/")
    body = page.locator("body")
    expect(body).to_contain_text(reference)
    expect(body).to_contain_text("VAT")
    screenshot(page, "receipt-html")
    page.go_back()
    expect(page).to_have_url(live_server.url + f"/portal/bookings/{reference}/")

    # The PDF receipt is a download.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download receipt (PDF)").click()
    download = download_info.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename == f"receipt-{reference}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"

    # Cancel: the preview says what comes back, then confirm.
    page.get_by_role("link", name="Cancel this booking…").click()
    expect(page).to_have_url(live_server.url + f"/portal/bookings/{reference}/cancel/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancel booking {reference}?")
    expect(page.locator("[data-refund]")).to_have_text("£190.00")
    confirm = page.get_by_role("button", name="Yes, cancel and refund £190.00")
    expect(confirm).to_be_visible()
    screenshot(page, "cancel-preview")

    confirm.click()
    expect(page).to_have_url(live_server.url + f"/portal/bookings/{reference}/")
    expect(page.get_by_text(f"Booking {reference} is cancelled.")).to_be_visible()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_role("link", name="Cancel this booking…")).to_have_count(0)
    screenshot(page, "cancelled")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    refund = Refund.objects.get(payment__booking=booking)
    assert refund.initiator == Refund.Initiator.CUSTOMER
    assert refund.amount == 19000
    assert refund.status == Refund.Status.SUCCEEDED
    booking.session.refresh_from_db()
    assert booking.session.seats_taken == 0
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_another_customer_gets_a_404_for_someone_elses_booking(
    page, live_server, paid_group_booking, screenshot
):
    nosy = User.objects.create_user(email="nosy@example.com")
    client = Client()
    client.force_login(nosy)
    cookie = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([
        {"name": cookie, "value": client.cookies[cookie].value, "url": live_server.url}
    ])

    page.goto(live_server.url + "/portal/")
    expect(page).to_have_url(live_server.url + "/portal/")  # signed in, not redirected
    expect(page.locator("body")).not_to_contain_text(paid_group_booking.reference)

    url = live_server.url + f"/portal/bookings/{paid_group_booking.reference}/"
    response = page.goto(url)
    assert response.status == 404
    expect(page.locator("body")).not_to_contain_text(paid_group_booking.reference)
    expect(page.locator("body")).not_to_contain_text(CUSTOMER)
    screenshot(page, "someone-elses-booking")
    # The 404 itself (as a response, and as Chromium's console line about it) is the only
    # thing the browser may report.
    assert f"HTTP 404: GET {url}" in page.errors
    assert all(url in error and "404" in error for error in page.errors), page.errors
