"""The finance export: a date range's invoices and credit notes (in the layout of Xero's
sales invoice CSV import), payments, refunds and disputes, as CSV (a zip of one file per
sheet) or XLSX (one sheet each). docs/finance-exports.md maps every column.

Each record is dated the way the staff dashboard dates it, so the totals reconcile: a
payment by when it succeeded, a refund by when it succeeded (its last save), a dispute's
money by the dispute event that moved it, a document by its tax point. The range is whole
local days, `date_from` to `date_to` inclusive."""

import io
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.core.errors import DomainError
from apps.core.money import minor_units_per_major
from apps.core.spreadsheets import csv_bytes, xlsx_bytes
from apps.invoicing.models import CreditNote, Invoice
from apps.payments.models import DisputeEvent, Payment
from apps.refunds.models import Refund

FORMATS = ("csv", "xlsx")
MAX_DAYS = 366

SALES_HEADER = [
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3",
    "POAddressLine4", "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber",
    "Reference", "*InvoiceDate", "*DueDate", "InventoryItemCode", "*Description",
    "*Quantity", "*UnitAmount", "Discount", "*AccountCode", "*TaxType", "TaxAmount",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2", "Currency",
    "BrandingTheme"]
PAYMENTS_HEADER = ["Date", "Payment", "Booking", "Customer", "Email", "Method", "Card",
                   "Stripe payment", "Currency", "Amount", "Status"]
REFUNDS_HEADER = ["Date", "Refund", "Payment", "Booking", "Customer", "Initiator", "Reason",
                  "Stripe refund", "Currency", "Amount"]
DISPUTES_HEADER = ["Date", "Dispute", "Payment", "Booking", "Event", "Status", "Reason",
                   "Currency", "Disputed amount", "Money effect"]


@dataclass
class FinanceExport:
    date_from: date
    date_to: date
    sheets: dict[str, tuple[list[str], list[list]]] = field(default_factory=dict)
    # Per currency, minor units: invoiced, credited, paid, refunded, disputed.
    totals: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(
        lambda: {"invoiced": 0, "credited": 0, "paid": 0, "refunded": 0, "disputed": 0}))

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, (_, rows) in self.sheets.items()}


def parse_range(*, date_from: str, date_to: str) -> tuple[date, date]:
    """The two dates (YYYY-MM-DD), or a DomainError saying what is wrong."""
    try:
        start, end = date.fromisoformat(date_from), date.fromisoformat(date_to)
    except (TypeError, ValueError):
        raise DomainError(f"Dates are written YYYY-MM-DD (e.g. 2026-11-01); got "
                          f"{date_from!r} and {date_to!r}.") from None
    if end < start:
        raise DomainError(f"The range ends ({end}) before it starts ({start}).")
    if (end - start).days >= MAX_DAYS:
        raise DomainError(f"Export at most {MAX_DAYS} days at a time.")
    return start, end


def _major(amount: int, currency: str) -> Decimal:
    return Decimal(amount) / minor_units_per_major(currency)


def _tax_type(rate: Decimal) -> str:
    if rate == 0:
        return "No VAT"
    return f"{rate.normalize():f}% (VAT on Income)"


def _address_lines(address: str) -> list[str]:
    lines = [line.strip() for line in address.splitlines() if line.strip()][:4]
    if len(address.splitlines()) > 4:
        lines[3] = ", ".join(line.strip() for line in address.splitlines()[3:] if line.strip())
    return lines + [""] * (4 - len(lines))


def _sales_rows(document, *, reference: str, due_on: date, sign: int) -> list[list]:
    issued = timezone.localdate(document.issued_at)
    contact = document.buyer_company or document.buyer_name
    rows = []
    for line in document.lines.all():
        rows.append([
            contact, document.buyer_email, *_address_lines(document.buyer_address), "", "",
            "", "", document.number, reference, issued.strftime("%d/%m/%Y"),
            due_on.strftime("%d/%m/%Y"), "", line.description, line.quantity,
            _major(sign * line.unit_gross, document.currency), "",
            settings.FINANCE_SALES_ACCOUNT_CODE, _tax_type(line.vat_rate),
            _major(sign * line.vat, document.currency), "", "", "", "", document.currency, ""])
    return rows


def _local_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (datetime.combine(start, time.min, tzinfo=tz),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz))


def finance_export(*, date_from: date, date_to: date) -> FinanceExport:
    """Read everything in the range into rows and totals (nothing is written here)."""
    start, end = _local_bounds(date_from, date_to)
    export = FinanceExport(date_from=date_from, date_to=date_to)
    local = timezone.localtime

    sales = []
    for invoice in (Invoice.objects.filter(issued_at__gte=start, issued_at__lt=end)
                    .select_related("booking").prefetch_related("lines")
                    .order_by("sequence")):
        reference = " ".join(filter(None, [invoice.booking.reference,
                                            invoice.purchase_order and
                                            f"PO {invoice.purchase_order}"]))
        sales += _sales_rows(invoice, reference=reference,
                             due_on=invoice.due_on, sign=1)
        export.totals[invoice.currency]["invoiced"] += invoice.gross_total
    for note in (CreditNote.objects.filter(issued_at__gte=start, issued_at__lt=end)
                 .select_related("invoice__booking").prefetch_related("lines")
                 .order_by("sequence")):
        sales += _sales_rows(note, reference=f"Credit for {note.invoice.number} "
                                             f"({note.invoice.booking.reference})",
                             due_on=timezone.localdate(note.issued_at), sign=-1)
        export.totals[note.currency]["credited"] += note.gross_total
    export.sheets["Sales"] = (SALES_HEADER, sales)

    payments = []
    for p in (Payment.objects.filter(status__in=Payment.MONEY_ARRIVED, succeeded_at__gte=start,
                                     succeeded_at__lt=end)
              .select_related("booking", "user").order_by("succeeded_at", "id")):
        card = f"{p.card_brand} {p.card_last4}".strip() if p.method == Payment.Method.CARD else ""
        payments.append([local(p.succeeded_at), p.pk, p.booking.reference, p.user.full_name,
                         p.user.email, p.get_method_display(), card,
                         p.stripe_payment_intent_id or "", p.currency,
                         _major(p.amount, p.currency), p.get_status_display()])
        export.totals[p.currency]["paid"] += p.amount
    export.sheets["Payments"] = (PAYMENTS_HEADER, payments)

    refunds = []
    for r in (Refund.objects.filter(status=Refund.Status.SUCCEEDED, updated_at__gte=start,
                                    updated_at__lt=end)
              .select_related("payment__booking", "payment__user").order_by("updated_at", "id")):
        refunds.append([local(r.updated_at), r.pk, r.payment_id, r.payment.booking.reference,
                        r.payment.user.full_name, r.get_initiator_display(), r.reason,
                        r.stripe_refund_id or "", r.currency, _major(r.amount, r.currency)])
        export.totals[r.currency]["refunded"] += r.amount
    export.sheets["Refunds"] = (REFUNDS_HEADER, refunds)

    disputes = []
    for e in (DisputeEvent.objects.filter(created_at__gte=start, created_at__lt=end)
              .select_related("dispute__payment__booking").order_by("created_at", "id")):
        d = e.dispute
        disputes.append([local(e.created_at), d.stripe_dispute_id, d.payment_id,
                         d.payment.booking.reference, e.type, e.status, d.reason, d.currency,
                         _major(d.amount, d.currency), _major(e.money_effect, d.currency)])
        export.totals[d.currency]["disputed"] += e.money_effect
    export.sheets["Disputes"] = (DISPUTES_HEADER, disputes)
    return export


def _text_cells(rows: list[list]) -> list[list]:
    """For CSV: datetimes as ISO text, amounts with their minor-unit decimals."""
    return [[value.isoformat(timespec="seconds") if isinstance(value, datetime) else value
             for value in row] for row in rows]


def export_bytes(export: FinanceExport, *, fmt: str) -> bytes:
    if fmt == "xlsx":
        return xlsx_bytes(export.sheets)
    if fmt == "csv":
        stream = io.BytesIO()
        with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, (header, rows) in export.sheets.items():
                archive.writestr(f"{name.lower()}.csv", csv_bytes(header, _text_cells(rows)))
        return stream.getvalue()
    raise DomainError(f"The format is csv or xlsx, not {fmt!r}.")


def export_filename(export: FinanceExport, *, fmt: str) -> str:
    extension = "xlsx" if fmt == "xlsx" else "zip"
    return f"finance-{export.date_from}-to-{export.date_to}.{extension}"
