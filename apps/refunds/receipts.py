"""Booking receipts, as HTML and as PDF.

A receipt is a statement of a booking's payments, not a tax document: the invoice and its
credit notes are (apps.invoicing). Its number changes with what it shows (receipt_number).
A receipt exists once a booking has at least one payment that succeeded. It shows what
was bought, every payment that succeeded and every refund that succeeded, and the
totals. Prices include VAT: when `settings.VAT_RATE_PERCENT` is above 0 the net amount
kept (paid minus refunded) is broken down into VAT and the amount net of VAT.

Money is integer minor units throughout; the template formats it with the `money`
filter. The receipt is dated by the last payment or refund it shows, so the same
state of a booking always gives the same document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from math import floor

from django.conf import settings
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.templatetags.static import static

from apps.bookings.models import Booking
from apps.bookings.selectors import booking_price
from apps.core.documents import render_pdf
from apps.core.errors import DomainError
from apps.payments.models import Payment

from .models import Refund

TEMPLATE_NAME = "bookings/receipt.html"
STYLESHEET = "css/receipt.css"
PDF_CONTENT_TYPE = "application/pdf"
NOT_PAID_MESSAGE = "There is no receipt yet: this booking has not been paid."

CARD_BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


@dataclass(frozen=True)
class Provider:
    name: str
    address: str
    vat_number: str


@dataclass(frozen=True)
class Purchaser:
    name: str
    email: str
    company: str


@dataclass(frozen=True)
class SessionDetails:
    course_title: str
    starts_at: datetime
    ends_at: datetime
    location_name: str
    location_address: str


@dataclass(frozen=True)
class ReceiptLine:
    description: str
    quantity: int
    unit_price: int
    amount: int


@dataclass(frozen=True)
class ReceiptPayment:
    paid_at: datetime
    method: str  # Payment.Method value: "card" or "invoice"
    method_label: str  # "Visa ending 4242", "Invoice / bank transfer"
    card_brand: str  # display name, "" when not a card
    card_last4: str
    amount: int


@dataclass(frozen=True)
class ReceiptRefund:
    refunded_at: datetime
    amount: int
    reason: str


@dataclass(frozen=True)
class Totals:
    paid: int  # gross: every payment that succeeded
    refunded: int  # every refund that succeeded
    net: int  # paid - refunded: what the customer has paid in the end


@dataclass(frozen=True)
class VatBreakdown:
    rate_percent: int | Fraction
    gross: int  # the net total above, which includes VAT
    vat: int
    net_of_vat: int


def vat_included(*, gross: int, rate_percent) -> int:
    """The VAT contained in a VAT-inclusive amount, in minor units.

    vat = gross * rate / (100 + rate), computed exactly (no floats) and rounded half up
    to a whole minor unit: 19000 at 20% is 3166.67 -> 3167; an exact half rounds up.
    """
    rate = Fraction(str(rate_percent))
    exact = Fraction(gross) * rate / (100 + rate)
    return floor(exact + Fraction(1, 2))


def vat_breakdown(*, gross: int, rate_percent) -> VatBreakdown | None:
    """None when the rate is 0 (no VAT lines at all)."""
    if not rate_percent or Fraction(str(rate_percent)) <= 0:
        return None
    vat = vat_included(gross=gross, rate_percent=rate_percent)
    return VatBreakdown(rate_percent=rate_percent, gross=gross, vat=vat, net_of_vat=gross - vat)


def receipt_number(*, booking: Booking, money_movements: int = 1) -> str:
    """`R-BK-ABC234-1` for the first state of a booking's money, `-2` once a refund (or
    another payment) is added: a receipt that shows something new never re-uses the number
    of one already given out. The tax documents are the invoice and its credit notes
    (apps.invoicing); the receipt is a statement of payments."""
    return f"R-{booking.reference}-{money_movements}"


def receipt_filename(*, booking: Booking) -> str:
    """What to offer the PDF as: `receipt-BK-ABC234.pdf`."""
    return f"receipt-{booking.reference}.pdf"


def _card_brand_label(brand: str) -> str:
    brand = (brand or "").strip()
    return CARD_BRANDS.get(brand.lower(), brand.replace("_", " ").title())


def _payment_line(payment: Payment) -> ReceiptPayment:
    is_card = payment.method == Payment.Method.CARD
    brand = _card_brand_label(payment.card_brand) if is_card else ""
    last4 = payment.card_last4 if is_card else ""
    if is_card:
        label = " ".join(part for part in [brand or "Card", f"ending {last4}" if last4 else ""]
                         if part)
    else:
        label = payment.get_method_display()
    return ReceiptPayment(
        paid_at=payment.succeeded_at or payment.created_at,
        method=payment.method,
        method_label=label,
        card_brand=brand,
        card_last4=last4,
        amount=payment.amount,
    )


def _refund_reason(refund: Refund) -> str:
    if refund.reason.strip():
        return refund.reason.strip()
    if refund.initiator in {Refund.Initiator.CUSTOMER, Refund.Initiator.SESSION_CANCELLED}:
        return refund.get_initiator_display()
    return "Refund"


def receipt_context(*, booking: Booking) -> dict:
    """Everything templates/bookings/receipt.html needs. Raises DomainError when the
    booking has no payment that succeeded."""
    booking = (
        Booking.objects.select_related("purchaser", "session__course", "session__location")
        .get(pk=booking.pk)
    )
    payments = sorted(
        (
            _payment_line(payment)
            for payment in Payment.objects.filter(
                booking_id=booking.pk, status__in=Payment.MONEY_ARRIVED
            )
        ),
        key=lambda line: line.paid_at,
    )
    if not payments:
        raise DomainError(NOT_PAID_MESSAGE, code="not_paid")
    refunds = [
        # A refund has no own "succeeded at": it is last saved when it succeeds.
        ReceiptRefund(refunded_at=refund.updated_at, amount=refund.amount,
                      reason=_refund_reason(refund))
        for refund in Refund.objects.filter(
            payment__booking_id=booking.pk, status=Refund.Status.SUCCEEDED
        ).order_by("updated_at", "id")
    ]

    session = booking.session
    purchaser = booking.purchaser
    paid = sum(line.amount for line in payments)
    refunded = sum(line.amount for line in refunds)
    totals = Totals(paid=paid, refunded=refunded, net=paid - refunded)
    issued_at = max([line.paid_at for line in payments]
                    + [line.refunded_at for line in refunds])
    if totals.net <= 0:
        status_label = "Refunded"
    elif totals.refunded:
        status_label = "Partly refunded"
    else:
        status_label = "Paid"

    return {
        "provider": Provider(
            name=settings.SITE_NAME,
            address=settings.COMPANY_ADDRESS,
            vat_number=settings.VAT_NUMBER,
        ),
        "booking": booking,
        "reference": booking.reference,
        "receipt_number": receipt_number(booking=booking,
                                         money_movements=len(payments) + len(refunds)),
        "issued_at": issued_at,
        "status_label": status_label,
        "currency": booking.currency,
        "purchaser": Purchaser(
            name=purchaser.full_name or purchaser.email,
            email=purchaser.email,
            company=booking.company_name,
        ),
        "session": SessionDetails(
            course_title=session.course.title,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            location_name=session.location.name,
            location_address=session.location.address,
        ),
        "lines": [
            ReceiptLine(
                description=session.course.title,
                quantity=booking.seats,
                unit_price=booking.unit_price,
                amount=booking.seats * booking.unit_price,
            )
        ],
        # Exactly what was taken off the list price (booking_price: after a change, one
        # line for what the booking keeps off), so the lines add up to the total.
        "discounts": booking_price(booking).discount_lines,
        "booking_total": booking.total_amount,
        "payments": payments,
        "refunds": refunds,
        "totals": totals,
        "vat": vat_breakdown(gross=totals.net, rate_percent=settings.VAT_RATE_PERCENT),
        "stylesheet_url": static(STYLESHEET),
    }


def receipt_html(*, booking: Booking, request: HttpRequest | None = None) -> str:
    """The receipt as a standalone HTML page (links /static/css/receipt.css)."""
    return render_to_string(TEMPLATE_NAME, receipt_context(booking=booking), request=request)


def receipt_pdf(*, booking: Booking) -> bytes:
    """The same receipt as an A4 PDF (WeasyPrint). Only local files are fetched."""
    return render_pdf(template=TEMPLATE_NAME, context=receipt_context(booking=booking),
                      stylesheet=STYLESHEET)
