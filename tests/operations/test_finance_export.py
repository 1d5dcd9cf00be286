"""The finance export: what it holds, that its totals reconcile with the staff dashboard
and the ledger, and the command's answers to good and bad input."""

import csv
import io
import zipfile
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from apps.bookings.models import Booking
from apps.invoicing.models import CreditNote, Invoice
from apps.operations.dashboard import dashboard_figures
from apps.operations.finance_export import SALES_HEADER, export_bytes, finance_export
from apps.payments.models import Dispute, DisputeEvent, Payment
from apps.payments.services import payment_record_manual
from apps.refunds.cancellation import booking_cancel
from apps.refunds.models import Refund
from apps.refunds.services import refund_create
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def month(settings):
    """Three paid bookings at awkward prices; one partly refunded, one cancelled with a
    full refund, and a dispute that cost money on the third."""
    settings.VAT_RATE_PERCENT = 20
    session = SessionFactory(price=12999, capacity=20,
                             starts_at=timezone.now() + timedelta(days=30))
    bookings = [make_booking(session, email=f"b{i}@example.com", seats=i + 1)
                for i in range(3)]
    Booking.objects.filter(pk=bookings[0].pk).update(company_name="=cmd|' /C calc'!A0")
    payments = [payment_record_manual(booking=b, actor=None) for b in bookings]
    refund_create(payment=payments[1], amount=3333, initiator="staff", reason="+Goodwill")
    booking_cancel(booking_id=bookings[2].pk, actor=None, reason="Asked to cancel")
    dispute = Dispute.objects.create(payment=payments[0], stripe_dispute_id="dp_1",
                                     amount=12999, status=Dispute.Status.LOST)
    DisputeEvent.objects.create(dispute=dispute, type="funds_withdrawn", status="lost",
                                money_effect=12999)
    return bookings, payments


def _range():
    today = timezone.localdate()
    return today - timedelta(days=60), today


def test_export_totals_reconcile_with_the_dashboard_and_the_ledger(month):
    date_from, date_to = _range()
    export = finance_export(date_from=date_from, date_to=date_to)
    totals = export.totals["GBP"]

    # From the export's own rows (what finance sees), in pence.
    def column_sum(sheet, name):
        header, rows = export.sheets[sheet]
        return int(sum(row[header.index(name)] for row in rows) * 100)

    paid, refunded = column_sum("Payments", "Amount"), column_sum("Refunds", "Amount")
    disputed = column_sum("Disputes", "Money effect")
    assert (paid, refunded, disputed) == (totals["paid"], totals["refunded"], totals["disputed"])

    # The ledger: payments that succeeded minus refunds that succeeded.
    ledger_paid = Payment.objects.filter(status__in=Payment.MONEY_ARRIVED).aggregate(
        s=Sum("amount"))["s"]
    ledger_refunded = Refund.objects.filter(status=Refund.Status.SUCCEEDED).aggregate(
        s=Sum("amount"))["s"]
    assert (paid, refunded) == (ledger_paid, ledger_refunded) == (
        12999 * 6, 3333 + 12999 * 3)

    # The dashboard's net revenue (the same weeks all fall in the range).
    assert dashboard_figures()["revenue_net_total"] == paid - refunded - disputed

    # Sales documents: invoiced minus credited is the money kept before chargebacks.
    assert totals["invoiced"] == Invoice.objects.aggregate(s=Sum("gross_total"))["s"]
    assert totals["credited"] == CreditNote.objects.aggregate(s=Sum("gross_total"))["s"]
    assert totals["invoiced"] - totals["credited"] == paid - refunded
    # and the Xero rows add up to the same: UnitAmount × Quantity per line
    header, rows = export.sheets["Sales"]
    unit, qty = header.index("*UnitAmount"), header.index("*Quantity")
    assert sum(Decimal(r[unit]) * r[qty] for r in rows) * 100 == paid - refunded


def test_sales_rows_follow_xero_and_escape_customer_text(month):
    bookings, _ = month
    export = finance_export(date_from=_range()[0], date_to=_range()[1])
    header, rows = export.sheets["Sales"]
    assert header == SALES_HEADER
    first = dict(zip(header, rows[0], strict=True))
    invoice = Invoice.objects.get(booking=bookings[0])
    assert first["*InvoiceNumber"] == invoice.number
    assert first["*InvoiceDate"] == timezone.localdate(invoice.issued_at).strftime("%d/%m/%Y")
    assert first["*TaxType"] == "20% (VAT on Income)"
    assert first["*UnitAmount"] == Decimal("129.99") and first["*Quantity"] == 1
    notes = [dict(zip(header, r, strict=True)) for r in rows
             if r[header.index("*InvoiceNumber")].startswith("CN-")]
    assert notes and all(n["*UnitAmount"] < 0 for n in notes)

    archive = zipfile.ZipFile(io.BytesIO(export_bytes(export, fmt="csv")))
    assert sorted(archive.namelist()) == ["disputes.csv", "payments.csv", "refunds.csv",
                                          "sales.csv"]
    sales = list(csv.DictReader(io.StringIO(archive.read("sales.csv").decode("utf-8-sig"))))
    assert sales[0]["*ContactName"] == "'=cmd|' /C calc'!A0"
    refunds = list(csv.DictReader(io.StringIO(archive.read("refunds.csv").decode("utf-8-sig"))))
    assert "'+Goodwill" in {r["Reason"] for r in refunds}

    book = openpyxl.load_workbook(io.BytesIO(export_bytes(export, fmt="xlsx")))
    assert book.sheetnames == ["Sales", "Payments", "Refunds", "Disputes"]
    cell = book["Sales"]["A2"]
    assert cell.value == "'=cmd|' /C calc'!A0" and cell.data_type == "s"


def test_the_command_writes_the_file_and_sums_up(month, tmp_path):
    date_from, date_to = _range()
    out = tmp_path / "month.xlsx"
    stdout = io.StringIO()
    call_command("export_finance", "--from", str(date_from), "--to", str(date_to),
                 "--format", "xlsx", "--out", str(out), stdout=stdout)
    text = stdout.getvalue()
    assert "Payments: 3 rows" in text and "Refunds: 2 rows" in text
    assert "paid £779.94" in text and f"Wrote {out}." in text
    assert openpyxl.load_workbook(out)["Payments"].max_row == 4

    call_command("export_finance", "--from", str(date_from), "--to", str(date_to),
                 "--format", "csv", "--out", str(tmp_path / "m.zip"), stdout=io.StringIO())
    assert zipfile.is_zipfile(tmp_path / "m.zip")


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-11-31", "--to", "2026-12-01"], "Dates are written YYYY-MM-DD"),
    (["--from", "2026-11-30", "--to", "2026-11-01"], r"ends \(2026-11-01\) before it starts"),
    (["--from", "2020-01-01", "--to", "2026-11-01"], "at most 366 days"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--format", "pdf"], "csv or xlsx"),
])
def test_the_command_refuses_bad_input_with_a_sentence(args, message, tmp_path):
    with pytest.raises(CommandError, match=message) as raised:
        call_command("export_finance", *args, "--out", str(tmp_path / "x"))
    assert raised.value.returncode == 2


def test_the_command_refuses_a_missing_folder(tmp_path):
    with pytest.raises(CommandError, match="does not exist") as raised:
        call_command("export_finance", "--from", "2026-11-01", "--to", "2026-11-30",
                     "--out", str(tmp_path / "nowhere" / "x.xlsx"))
    assert raised.value.returncode == 2
