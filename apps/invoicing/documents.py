"""Invoices and credit notes as PDF (WeasyPrint, like receipts and certificates): drawn
only from what the document froze when it was issued, so it prints the same every time."""

from dataclasses import dataclass
from decimal import Decimal

from django.templatetags.static import static

from apps.core.documents import render_pdf

from .models import CreditNote, Invoice

TEMPLATE_NAME = "invoicing/document.html"
STYLESHEET = "css/receipt.css"


@dataclass(frozen=True)
class VatSummaryRow:
    rate: Decimal
    net: int
    vat: int
    gross: int


def vat_summary(lines) -> list[VatSummaryRow]:
    """One row per VAT rate: the sums of the lines at that rate."""
    by_rate: dict[Decimal, list[int]] = {}
    for line in lines:
        sums = by_rate.setdefault(line.vat_rate, [0, 0, 0])
        sums[0] += line.net
        sums[1] += line.vat
        sums[2] += line.gross
    return [VatSummaryRow(rate, *by_rate[rate]) for rate in sorted(by_rate)]


def document_context(document: Invoice | CreditNote) -> dict:
    is_invoice = isinstance(document, Invoice)
    lines = list(document.lines.all())
    return {
        "document": document,
        "title": "VAT invoice" if is_invoice else "Credit note",
        "is_invoice": is_invoice,
        "invoice": document if is_invoice else document.invoice,
        "booking_reference": (document.booking if is_invoice
                              else document.invoice.booking).reference,
        "lines": lines,
        "vat_rows": vat_summary(lines),
        "currency": document.currency,
        "stylesheet_url": static(STYLESHEET),
    }


def document_filename(document: Invoice | CreditNote) -> str:
    return f"{document.number}.pdf"


def document_pdf(document: Invoice | CreditNote) -> bytes:
    return render_pdf(template=TEMPLATE_NAME, context=document_context(document),
                      stylesheet=STYLESHEET)
