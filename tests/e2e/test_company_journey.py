"""In a real browser on a phone and a desktop: an office manager, a contact of a company
approved to pay by invoice, books three colleagues on the company's account with a PO
number, sees the booking confirmed with its due date, finds it on the company page and
downloads its invoice (PDF) from the booking page.
Screenshots go to test-artifacts/e2e/<viewport>/."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from apps.bookings.models import Booking
from apps.invoicing.models import Invoice
from apps.users.models import User
from tests.companies.helpers import make_company
from tests.e2e.axe import axe_violations, describe, wider_than_viewport
from tests.e2e.conftest import new_page
from tests.factories import SessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MANAGER = "office@acme.example"


def signed_in(page, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([
        {"name": cookie, "value": client.cookies[cookie].value, "url": live_server.url}])


@pytest.fixture
def audit_page(browser, viewport):
    """A page that lets axe in (bypass_csp), as the accessibility tests' pages do."""
    page = new_page(browser, viewport, bypass_csp=True)
    yield page
    page.context.close()


def test_company_contact_books_three_colleagues_on_account_and_downloads_the_invoice(
        audit_page, live_server, screenshot):
    page = audit_page
    company = make_company(name="Acme Ltd", po=True, terms=30, limit=100000,
                           contacts=[MANAGER])
    manager = User.objects.get(email=MANAGER)
    manager.first_name, manager.last_name = "Olive", "Office"
    manager.save()
    session = SessionFactory(price=9500, capacity=10)
    signed_in(page, live_server, manager)

    page.goto(f"{live_server.url}/sessions/{session.pk}/book/")
    page.get_by_label("Number of seats").select_option("3")
    expect(page.get_by_label("Attendee 3: full name")).to_be_visible()
    for n, (name, email) in enumerate([("Amira Khan", "amira@acme.example"),
                                       ("Ben Ode", "ben@acme.example"),
                                       ("Cora Lund", "cora@acme.example")], start=1):
        page.get_by_label(f"Attendee {n}: full name").fill(name)
        page.get_by_label(f"Attendee {n}: email").fill(email)
    page.get_by_label("Pay by invoice (Acme Ltd)").check()
    page.get_by_label("PO number").fill("PO-2026-17")
    page.get_by_label("I accept the terms and the cancellation policy").check()
    # Paying by invoice holds nothing for 15 minutes: the seats are confirmed on booking.
    expect(page.locator("[data-on-account-note]")).to_contain_text("confirmed when you book")
    expect(page.locator("#booking-submit")).to_have_text("Book and invoice Acme Ltd")
    screenshot(page, "form-on-account")
    assert not (found := axe_violations(page)), describe(found)
    page.locator("#booking-submit").click()

    expect(page.get_by_role("heading", name="You're booked!")).to_be_visible()
    status = page.locator("#booking-status")
    expect(status).to_contain_text("confirmed on Acme Ltd's account")
    expect(status).to_contain_text("£285.00")
    expect(status).to_contain_text("PO PO-2026-17")
    expect(page.locator("#payment-form")).to_have_count(0)
    screenshot(page, "confirmed")
    booking = Booking.objects.get(session=session)
    assert (booking.company_id, booking.purchase_order, booking.hold_expires_at) == (
        company.pk, "PO-2026-17", None)

    page.get_by_role("link", name="Your company's bookings").click()
    expect(page).to_have_url(re.compile(rf"/portal/companies/{company.pk}/$"))
    row = page.locator(f"[data-booking='{booking.reference}']")
    expect(row).to_contain_text("PO-2026-17")
    expect(row).to_contain_text("£285.00")
    expect(row).to_contain_text("Confirmed, due")
    screenshot(page, "company-page")
    assert not (found := axe_violations(page)), describe(found)
    assert wider_than_viewport(page) == []
    row.get_by_role("link", name=booking.reference).click()
    expect(page.locator("body")).to_contain_text(booking.reference)
    expect(page.locator("body")).to_contain_text("Amira Khan")
    expect(page.locator("body")).to_contain_text("Cora Lund")
    expect(page.locator("[data-pay-balance]")).to_contain_text("Pay £285.00 by card")

    expect(page.get_by_role("link", name="Pay now")).to_have_count(0)

    # The invoice, in the portal's own page of the booking.
    page.goto(f"{live_server.url}/portal/bookings/{booking.reference}/")
    invoice = Invoice.objects.get(booking=booking)
    assert (invoice.purchase_order, invoice.gross_total, invoice.buyer_company) == (
        "PO-2026-17", 28500, "Acme Ltd")
    document = page.locator(f"[data-document='{invoice.number}']")
    expect(document).to_contain_text(f"Invoice {invoice.number} to Acme Ltd")
    screenshot(page, "booking-invoice")
    with page.expect_download() as download_info:
        document.get_by_role("link", name=f"Download {invoice.number} (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert page.errors == []
