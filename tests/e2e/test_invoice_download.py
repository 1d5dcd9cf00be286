"""A card customer downloads their VAT invoice from the portal booking page, then has it
made out to their company and downloads the new one (phone and desktop), in a real
browser against the live server."""

from datetime import timedelta
from io import BytesIO

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from apps.invoicing.models import CreditNote, Invoice
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from tests.e2e.test_portal_journey import CUSTOMER, sign_in_with_code
from tests.factories import SessionFactory, make_booking

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _pdf_text(path) -> str:
    with open(path, "rb") as pdf:
        return "\n".join(p.extract_text() for p in PdfReader(BytesIO(pdf.read())).pages)


def test_customer_downloads_the_invoice_and_adds_company_details(page, live_server, screenshot,
                                                                  settings):
    settings.VAT_RATE_PERCENT = 20
    session = SessionFactory(price=9500, starts_at=timezone.now() + timedelta(days=30))
    booking = make_booking(session, email=CUSTOMER, seats=2)
    payment_record_manual(booking=booking, actor=None, method=Payment.Method.CARD)
    invoice = Invoice.objects.get(booking=booking)

    sign_in_with_code(page, live_server, CUSTOMER, screenshot)
    page.goto(live_server.url + f"/portal/bookings/{booking.reference}/")
    documents = page.locator("[data-documents]")
    expect(documents).to_contain_text(f"Invoice {invoice.number}")
    screenshot(page, "booking-with-invoice")

    with page.expect_download() as download_info:
        documents.get_by_role("link", name=f"Download {invoice.number} (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    text = _pdf_text(download.path())
    assert "£190.00" in text and "£31.67" in text

    page.get_by_role("link", name="Add your company details to the invoice…").click()
    page.get_by_label("Company name").fill("Acme Training Buyers Ltd")
    page.get_by_label("Company address").fill("1 High Street\nLeeds LS1 1AA")
    page.get_by_label("VAT number (optional)").fill("GB999999973")
    screenshot(page, "company-details")
    page.get_by_role("button", name="Issue the invoice to this company").click()

    new = Invoice.objects.get(replaces=invoice)
    expect(page.locator(".messages")).to_contain_text(
        f"Invoice {new.number} is made out to Acme Training Buyers Ltd")
    note = CreditNote.objects.get(invoice=invoice)
    expect(documents).to_contain_text(f"Credit note {note.number} for invoice {invoice.number}")
    screenshot(page, "booking-with-new-invoice")
    with page.expect_download() as download_info:
        documents.get_by_role("link", name=f"Download {new.number} (PDF)").click()
    text = _pdf_text(download_info.value.path())
    assert "Acme Training Buyers Ltd" in text and "GB999999973" in text
    assert page.errors == []
