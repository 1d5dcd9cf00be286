import importlib.util
import re
import shutil
import subprocess
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.utils import timezone

from apps.core.errors import DomainError
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from apps.refunds.receipts import (
    PDF_CONTENT_TYPE,
    receipt_context,
    receipt_filename,
    receipt_html,
    receipt_pdf,
    vat_breakdown,
    vat_included,
)
from apps.refunds.services import refund_create
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def paid(settings):
    """A two-seat booking at £95.00 a seat (£190.00), paid by invoice: no Stripe."""
    settings.VAT_RATE_PERCENT = 20
    booking = make_booking(SessionFactory(price=9500), seats=2)
    payment = payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    return booking, payment


def pdf_text(pdf: bytes) -> str | None:
    """The PDF's text with pypdf or poppler's pdftotext; None when neither is here."""
    if importlib.util.find_spec("pypdf"):
        from pypdf import PdfReader

        return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    if pdftotext := shutil.which("pdftotext"):
        result = subprocess.run([pdftotext, "-layout", "-", "-"], input=pdf,  # noqa: S603
                                capture_output=True, check=True, timeout=30)
        return result.stdout.decode()
    return None


def test_vat_at_20_percent_of_190_pounds(paid):
    booking, _ = paid
    context = receipt_context(booking=booking)
    assert context["totals"].paid == 19000
    assert context["totals"].refunded == 0
    assert context["totals"].net == 19000
    vat = context["vat"]
    assert (vat.rate_percent, vat.gross, vat.vat, vat.net_of_vat) == (20, 19000, 3167, 15833)

    html = receipt_html(booking=booking)
    assert "£31.67" in html
    assert "£158.33" in html
    assert "£190.00" in html
    assert "VAT at 20%" in html
    assert "GB 123 4567 89" in html


def test_no_vat_lines_when_the_rate_is_zero(paid, settings):
    booking, _ = paid
    settings.VAT_RATE_PERCENT = 0
    assert receipt_context(booking=booking)["vat"] is None
    html = receipt_html(booking=booking)
    assert "VAT" not in html
    assert "£190.00" in html


def test_the_receipt_shows_provider_purchaser_session_and_lines(paid, settings):
    booking, _ = paid
    settings.SITE_NAME = "Harbour First Aid"
    settings.COMPANY_ADDRESS = "3 Quay Street, Bristol BS1 4AA"
    booking.company_name = "Acme & Sons Ltd"
    booking.save(update_fields=["company_name"])

    context = receipt_context(booking=booking)
    assert context["receipt_number"] == f"R-{booking.reference}-1"
    assert context["provider"].name == "Harbour First Aid"
    assert context["purchaser"].name == "Buyer One"
    assert context["purchaser"].email == "buyer@example.com"
    assert context["purchaser"].company == "Acme & Sons Ltd"
    assert context["session"].course_title == booking.session.course.title
    [line] = context["lines"]
    assert (line.quantity, line.unit_price, line.amount) == (2, 9500, 19000)
    [payment] = context["payments"]
    assert payment.method == "invoice"
    assert payment.amount == 19000
    assert context["issued_at"] == payment.paid_at

    html = receipt_html(booking=booking)
    assert f"R-{booking.reference}-1" in html
    assert "Harbour First Aid" in html
    assert "3 Quay Street, Bristol BS1 4AA" in html
    assert "Acme &amp; Sons Ltd" in html  # escaped
    assert booking.session.course.title in html
    assert booking.session.location.name in html
    assert "£95.00" in html
    assert "Invoice / bank transfer" in html


def test_the_html_is_a_standalone_page_with_a_linked_stylesheet(paid):
    booking, _ = paid
    request = RequestFactory().get("/")
    html = receipt_html(booking=booking, request=request)
    assert html.lstrip().startswith("<!doctype html>")
    assert '<link rel="stylesheet" href="/static/css/receipt.css">' in html
    assert "<script" not in html
    assert "<style" not in html
    assert not re.search(r"\sstyle\s*=", html)


def test_refunds_appear_and_the_net_total_is_right(paid):
    booking, payment = paid
    refund_create(payment=payment, amount=5000, initiator="staff",
                  reason="One attendee could not come")
    context = receipt_context(booking=booking)
    assert context["totals"].paid == 19000
    assert context["totals"].refunded == 5000
    assert context["totals"].net == 14000
    [refund] = context["refunds"]
    assert (refund.amount, refund.reason) == (5000, "One attendee could not come")
    # VAT is broken down on what was kept: 14000 * 20 / 120 = 2333.33 -> 2333.
    assert (context["vat"].gross, context["vat"].vat, context["vat"].net_of_vat) == (
        14000, 2333, 11667)
    assert context["status_label"] == "Partly refunded"

    html = receipt_html(booking=booking)
    assert "One attendee could not come" in html
    assert "−£50.00" in html
    assert "£140.00" in html
    assert "£23.33" in html
    assert "£116.67" in html


def test_a_fully_refunded_booking_still_has_a_receipt(paid):
    booking, payment = paid
    refund_create(payment=payment, amount=19000, initiator="staff", reason="Goodwill")
    context = receipt_context(booking=booking)
    assert context["totals"].net == 0
    assert context["vat"].vat == 0
    assert context["status_label"] == "Refunded"


def test_a_refund_that_has_not_succeeded_is_not_on_the_receipt(paid):
    booking, payment = paid
    card = Payment.objects.create(
        booking=booking, user=booking.purchaser, method=Payment.Method.CARD, amount=1000,
        currency="GBP", status=Payment.Status.SUCCEEDED, attempt=9, succeeded_at=timezone.now(),
        stripe_payment_intent_id="pi_receipt_test",
    )
    # A card refund stays pending until Stripe answers (the task is queued on commit).
    refund_create(payment=card, amount=400, initiator="staff", reason="Pending one")
    context = receipt_context(booking=booking)
    assert context["refunds"] == []
    assert context["totals"].refunded == 0
    assert "Pending one" not in receipt_html(booking=booking)


def test_card_payments_show_only_brand_and_last_four(paid):
    booking, _ = paid
    Payment.objects.create(
        booking=booking, user=booking.purchaser, method=Payment.Method.CARD, amount=2500,
        currency="GBP", status=Payment.Status.SUCCEEDED, attempt=7, succeeded_at=timezone.now(),
        stripe_payment_intent_id="pi_secret_receipt_id", card_brand="visa", card_last4="4242",
    )
    Payment.objects.create(
        booking=booking, user=booking.purchaser, method=Payment.Method.CARD, amount=700,
        currency="GBP", status=Payment.Status.FAILED, attempt=8, card_brand="amex",
        card_last4="0005", failure_message="Your card was declined.",
    )
    context = receipt_context(booking=booking)
    assert [p.method_label for p in context["payments"]] == [
        "Invoice / bank transfer", "Visa ending 4242"]
    assert context["totals"].paid == 19000 + 2500
    html = receipt_html(booking=booking)
    assert "Visa ending 4242" in html
    assert "pi_secret_receipt_id" not in html
    assert "0005" not in html
    assert "declined" not in html


def test_an_unpaid_booking_has_no_receipt():
    booking = make_booking(SessionFactory(price=9500), seats=2)
    with pytest.raises(DomainError, match="There is no receipt yet: this booking has not "
                                          "been paid."):
        receipt_context(booking=booking)
    with pytest.raises(DomainError):
        receipt_html(booking=booking)
    with pytest.raises(DomainError):
        receipt_pdf(booking=booking)


def test_a_failed_payment_alone_gives_no_receipt():
    booking = make_booking(SessionFactory(price=9500), seats=1)
    Payment.objects.create(booking=booking, user=booking.purchaser, amount=9500,
                           status=Payment.Status.FAILED)
    with pytest.raises(DomainError):
        receipt_context(booking=booking)


def test_the_pdf(paid):
    booking, payment = paid
    refund_create(payment=payment, amount=5000, initiator="staff",
                  reason="One attendee could not come")
    pdf = receipt_pdf(booking=booking)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 1000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "receipt-example.pdf").write_bytes(pdf)

    text = pdf_text(pdf)
    if text is None:
        return  # neither pypdf nor pdftotext here: the size check above has to do
    assert booking.reference in text
    assert f"R-{booking.reference}-2" in text  # a new state, never the first number
    assert "£31.67" not in text  # VAT is on the net £140.00 after the refund
    assert "£23.33" in text
    assert "£140.00" in text
    assert "Page 1 of 1" in text  # the A4 page box and its footer


def test_filename_and_content_type(paid):
    booking, _ = paid
    assert receipt_filename(booking=booking) == f"receipt-{booking.reference}.pdf"
    assert PDF_CONTENT_TYPE == "application/pdf"


@pytest.mark.parametrize(("gross", "rate", "vat"), [
    (19000, 20, 3167),   # 3166.67 rounds up
    (14000, 20, 2333),   # 2333.33 rounds down
    (3, 20, 1),          # 0.5 exactly: half up
    (9, 20, 2),          # 1.5 exactly: half up
    (2, 20, 0),          # 0.33
    (0, 20, 0),
    (470, Decimal("17.5"), 70),  # 70 exactly, a rate with a fraction
    (1050, 5, 50),
])
def test_vat_included_rounds_half_up_on_minor_units(gross, rate, vat):
    assert vat_included(gross=gross, rate_percent=rate) == vat


def test_no_vat_breakdown_at_zero_percent():
    assert vat_breakdown(gross=19000, rate_percent=0) is None
    breakdown = vat_breakdown(gross=19000, rate_percent=20)
    assert breakdown.vat + breakdown.net_of_vat == 19000
