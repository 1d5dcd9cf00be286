"""Issuing invoices and credit notes.

Every issue runs in one transaction that locks, in this order, the booking, then the
invoice being credited (if any), then the numbering series; the number is taken from the
locked series row, so concurrent issues queue for it and numbers are gapless. Callers that
already hold the booking lock (payments, refunds) call in inside their transaction."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.errors import ConflictError, DomainError
from apps.core.money import format_money
from apps.users.audit import log_action

from .models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, InvoiceSeries
from .vat import line_amounts, split_by_weight, unit_net

# Each kind's series, made on first use (staff may change the prefix before the first issue).
DEFAULT_PREFIXES = {InvoiceSeries.Kind.INVOICE: "INV-", InvoiceSeries.Kind.CREDIT_NOTE: "CN-"}

# Bookings an invoice may be issued for: paid, or past it (attended, no-show).
INVOICEABLE = frozenset({Booking.Status.PAID, Booking.Status.COMPLETED, Booking.Status.NO_SHOW})


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: int
    unit_gross: int
    vat_rate: Decimal


@dataclass(frozen=True)
class Buyer:
    name: str
    email: str = ""
    company: str = ""
    address: str = ""
    vat_number: str = ""


def current_vat_rate() -> Decimal:
    return Decimal(str(settings.VAT_RATE_PERCENT or 0))


# The table's and columns' names come from the model; the kind is a parameter.
TAKE_NUMBER_SQL = (
    f'UPDATE "{InvoiceSeries._meta.db_table}" SET next_number = next_number + 1 '  # noqa: S608
    "WHERE kind = %s RETURNING id, kind, prefix, next_number - 1 AS sequence, digits")


def _take_number(kind: str) -> tuple[InvoiceSeries, int, str]:
    """The next number of the series, taken with one UPDATE that also locks the series row
    until the caller's transaction ends: concurrent issues queue on the row, and a rollback
    gives the number back, so numbers are gapless. The series is made on first use."""
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(TAKE_NUMBER_SQL, [kind])
            row = cursor.fetchone()
        if row is not None:
            series_id, kind, prefix, sequence, digits = row
            series = InvoiceSeries(id=series_id, kind=kind, prefix=prefix,
                                   next_number=sequence + 1, digits=digits)
            series._state.adding = False
            return series, sequence, series.format(sequence)
        # First use: a concurrent first use loses the unique kind and takes the next one.
        InvoiceSeries.objects.get_or_create(kind=kind,
                                            defaults={"prefix": DEFAULT_PREFIXES[kind]})
    raise RuntimeError(f"No {kind} series")  # unreachable: the row exists now


def _seller() -> dict:
    return {"seller_name": settings.SELLER_NAME, "seller_address": settings.SELLER_ADDRESS,
            "seller_vat_number": settings.SELLER_VAT_NUMBER}


def _buyer_fields(buyer: Buyer) -> dict:
    return {"buyer_name": buyer.name, "buyer_email": buyer.email,
            "buyer_company": buyer.company, "buyer_address": buyer.address,
            "buyer_vat_number": buyer.vat_number}


def _line_rows(lines: list[LineInput]) -> list[dict]:
    rows = []
    for position, line in enumerate(lines, start=1):
        amounts = line_amounts(quantity=line.quantity, unit_gross=line.unit_gross,
                               rate=line.vat_rate)
        rows.append({"position": position, "description": line.description[:300],
                     "quantity": line.quantity, "unit_gross": line.unit_gross,
                     "unit_net": unit_net(unit_gross=line.unit_gross, rate=line.vat_rate),
                     "vat_rate": line.vat_rate, "net": amounts.net, "vat": amounts.vat,
                     "gross": amounts.gross})
    return rows


def _totals(rows: list[dict]) -> dict:
    return {"net_total": sum(r["net"] for r in rows), "vat_total": sum(r["vat"] for r in rows),
            "gross_total": sum(r["gross"] for r in rows)}


def booking_lines(booking: Booking) -> list[LineInput]:
    """What a booking sold: its seats at the seat price; any difference between that and
    the booking total (a discount) as its own line, so the invoice adds up to the total."""
    session = booking.session
    rate = current_vat_rate()
    when = timezone.localtime(session.starts_at).strftime("%-d %b %Y")
    lines = [LineInput(description=f"{session.course.title}, {when}, {session.location.name} "
                                   f"(booking {booking.reference})",
                       quantity=booking.seats, unit_gross=booking.unit_price, vat_rate=rate)]
    difference = booking.total_amount - booking.seats * booking.unit_price
    if difference:
        lines.append(LineInput(description="Discount" if difference < 0 else "Adjustment",
                               quantity=1, unit_gross=difference, vat_rate=rate))
    return lines


def booking_buyer(booking: Booking) -> Buyer:
    purchaser = booking.purchaser
    return Buyer(name=purchaser.full_name or purchaser.email, email=purchaser.email,
                 company=booking.company_name)


def _issue_invoice(*, booking: Booking, lines: list[LineInput], buyer: Buyer, now: datetime,
                   due_on, replaces: Invoice | None = None) -> Invoice:
    rows = _line_rows(lines)
    series, sequence, number = _take_number(InvoiceSeries.Kind.INVOICE)
    invoice = Invoice.objects.create(
        series=series, sequence=sequence, number=number, booking=booking, replaces=replaces,
        issued_at=now, due_on=due_on, currency=booking.currency,
        purchase_order=booking.purchase_order,
        **_seller(), **_buyer_fields(buyer), **_totals(rows))
    InvoiceLine.objects.bulk_create(InvoiceLine(invoice=invoice, **row) for row in rows)
    return invoice


def _lock_booking(booking_id: int) -> Booking:
    return (Booking.objects.select_for_update(of=("self",))
            .select_related("purchaser", "session__course", "session__location")
            .get(pk=booking_id))


def _invoice_once(*, booking: Booking, buyer_for, due_on_for, now: datetime, actor,
                  allowed, new_booking: bool = False) -> Invoice:
    # A booking made in the caller's open transaction is invisible to everyone else until
    # it commits: nobody can lock it or have invoiced it, so it is used as it is (with its
    # session's course and location and its purchaser loaded), with no savepoint.
    with transaction.atomic(savepoint=not new_booking):
        if new_booking:
            locked = booking
        else:
            locked = _lock_booking(booking.pk)
            existing = Invoice.objects.filter(booking=locked, replaces__isnull=True).first()
            if existing is not None:
                return existing
        if not allowed(locked):
            raise ConflictError(f"Booking {locked.reference} is "
                                f"{locked.get_status_display().lower()}: it has no invoice.")
        invoice = _issue_invoice(booking=locked, lines=booking_lines(locked),
                                 buyer=buyer_for(locked), now=now, due_on=due_on_for(locked))
        log_action("invoice.issued", actor=actor, target=invoice, user=locked.purchaser_id,
                   data={"number": invoice.number, "booking": locked.reference,
                         "amount": invoice.gross_total})
    return invoice


def invoice_for_paid_booking(*, booking: Booking, now: datetime | None = None,
                             actor=None, new_booking: bool = False) -> Invoice:
    """The booking's invoice, issued now if it has none: one per booking, however often
    this is called (a retried webhook, two payments racing). Due on the day it is issued:
    the booking is paid. `new_booking`: the booking was made in the caller's transaction,
    which is still open (it is neither locked again nor looked up for an invoice)."""
    now = now or timezone.now()
    return _invoice_once(booking=booking, buyer_for=booking_buyer,
                         due_on_for=lambda _: timezone.localdate(now), now=now, actor=actor,
                         allowed=lambda b: b.status in INVOICEABLE, new_booking=new_booking)


def invoice_for_booking_on_account(*, booking: Booking, buyer: Buyer,
                                   now: datetime | None = None, actor=None) -> Invoice:
    """A booking on a company's account is invoiced when it is confirmed, before it is
    paid: to the company, due on the booking's payment due date. Once per booking (the
    payment that settles it later finds this invoice)."""
    now = now or timezone.now()
    return _invoice_once(booking=booking, buyer_for=lambda _: buyer,
                         due_on_for=lambda b: b.payment_due_date or timezone.localdate(now),
                         now=now, actor=actor,
                         allowed=lambda b: b.status in INVOICEABLE | {Booking.Status.PENDING})


def current_invoice(*, booking_id: int) -> Invoice | None:
    """The booking's invoice that nothing has replaced."""
    return (Invoice.objects.filter(booking_id=booking_id, replaced_by__isnull=True)
            .order_by("-id").first())


def credited_total(invoice: Invoice) -> int:
    return invoice.credit_notes.aggregate(total=Sum("gross_total"))["total"] or 0


def _credit_lines(invoice: Invoice, amount: int, reason: str) -> list[LineInput]:
    """A credit of `amount` (VAT included) spread over the invoice's VAT rates in
    proportion to what each rate sold: one line per rate."""
    by_rate: dict[Decimal, int] = {}
    for line in invoice.lines.all():
        by_rate[line.vat_rate] = by_rate.get(line.vat_rate, 0) + line.gross
    rates = sorted(by_rate)
    shares = split_by_weight(amount=amount, weights=[max(by_rate[r], 0) for r in rates])
    return [LineInput(description=f"{reason} (invoice {invoice.number})", quantity=1,
                      unit_gross=share, vat_rate=rate)
            for rate, share in zip(rates, shares, strict=True) if share]


def _issue_credit_note(*, invoice: Invoice, amount: int, reason: str, source_key: str,
                       now: datetime) -> CreditNote:
    rows = _line_rows(_credit_lines(invoice, amount, reason))
    series, sequence, number = _take_number(InvoiceSeries.Kind.CREDIT_NOTE)
    note = CreditNote.objects.create(
        series=series, sequence=sequence, number=number, invoice=invoice, reason=reason[:300],
        source_key=source_key, issued_at=now, currency=invoice.currency,
        seller_name=invoice.seller_name, seller_address=invoice.seller_address,
        seller_vat_number=invoice.seller_vat_number, buyer_name=invoice.buyer_name,
        buyer_email=invoice.buyer_email, buyer_company=invoice.buyer_company,
        buyer_address=invoice.buyer_address, buyer_vat_number=invoice.buyer_vat_number,
        **_totals(rows))
    CreditNoteLine.objects.bulk_create(CreditNoteLine(credit_note=note, **row) for row in rows)
    return note


def credit_note_issue(*, invoice: Invoice, amount: int, reason: str, source_key: str,
                      now: datetime | None = None, actor=None) -> CreditNote:
    """Credit `amount` (VAT included) of an invoice, once per `source_key`. Never more than
    is left uncredited."""
    now = now or timezone.now()
    if amount <= 0:
        raise DomainError("A credit note is for an amount above zero.")
    with transaction.atomic():
        _lock_booking(invoice.booking_id)
        existing = CreditNote.objects.filter(source_key=source_key).first()
        if existing is not None:
            return existing
        invoice = Invoice.objects.get(pk=invoice.pk)
        left = invoice.gross_total - credited_total(invoice)
        if amount > left:
            raise ConflictError(f"Invoice {invoice.number} has only "
                                f"{format_money(left, invoice.currency)} left to credit.")
        note = _issue_credit_note(invoice=invoice, amount=amount, reason=reason,
                                  source_key=source_key, now=now)
        log_action("credit_note.issued", actor=actor, target=note,
                   data={"number": note.number, "invoice": invoice.number, "amount": amount,
                         "reason": reason})
    return note


def credit_to_match_money_kept(*, booking_id: int, money_kept: int, reason: str,
                               source_key: str, now: datetime | None = None,
                               actor=None) -> CreditNote | None:
    """After money went back (a refund, a cancellation): credit the booking's invoice down
    to the money the business keeps. Nothing to credit (no invoice, or the refund was of a
    duplicate payment the invoice never counted): None."""
    with transaction.atomic():
        _lock_booking(booking_id)
        invoice = current_invoice(booking_id=booking_id)
        if invoice is None:
            return None
        amount = invoice.gross_total - credited_total(invoice) - max(money_kept, 0)
        if amount <= 0:
            return None
        return credit_note_issue(invoice=invoice, amount=amount, reason=reason,
                                 source_key=source_key, now=now, actor=actor)


def invoice_reissue_for_booking(*, booking_id: int, reason: str, now: datetime | None = None,
                                actor=None) -> Invoice | None:
    """The booking now sells something else than its invoice says (it moved to a dearer
    date and the difference was paid): credit what is left of the invoice and issue a new
    one for the booking as it stands, to the same buyer, so what is invoiced less what is
    credited is again the booking's total. None: no invoice, or it already matches."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        invoice = current_invoice(booking_id=booking_id)
        if invoice is None:
            return None
        left = invoice.gross_total - credited_total(invoice)
        if left == booking.total_amount:
            return None
        if left > 0:
            _issue_credit_note(invoice=invoice, amount=left, reason=reason,
                               source_key=f"reissue:{invoice.pk}", now=now)
        buyer = Buyer(name=invoice.buyer_name, email=invoice.buyer_email,
                      company=invoice.buyer_company, address=invoice.buyer_address,
                      vat_number=invoice.buyer_vat_number)
        new = _issue_invoice(booking=booking, lines=booking_lines(booking), buyer=buyer,
                             now=now, due_on=timezone.localdate(now), replaces=invoice)
        log_action("invoice.reissued", actor=actor, target=new, user=booking.purchaser_id,
                   data={"number": new.number, "replaces": invoice.number,
                         "reason": reason})
    return new


def invoice_reissue_to_company(*, invoice: Invoice, company: str, address: str,
                               vat_number: str, actor, now: datetime | None = None) -> Invoice:
    """An issued invoice never changes, so adding the buyer's company details credits it in
    full and issues a new invoice with the same lines and the company as buyer."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = _lock_booking(invoice.booking_id)
        invoice = Invoice.objects.get(pk=invoice.pk)
        if Invoice.objects.filter(replaces=invoice).exists():
            raise ConflictError(f"Invoice {invoice.number} has already been replaced.")
        if credited_total(invoice):
            raise ConflictError(f"Invoice {invoice.number} has been credited in part, so it "
                                "cannot be reissued from here: please contact us.")
        if (company, address, vat_number) == (invoice.buyer_company, invoice.buyer_address,
                                              invoice.buyer_vat_number):
            return invoice
        _issue_credit_note(invoice=invoice, amount=invoice.gross_total,
                           reason="Replaced by an invoice with the buyer's company details",
                           source_key=f"reissue:{invoice.pk}", now=now)
        lines = [LineInput(description=line.description, quantity=line.quantity,
                           unit_gross=line.unit_gross, vat_rate=line.vat_rate)
                 for line in invoice.lines.all()]
        buyer = Buyer(name=invoice.buyer_name, email=invoice.buyer_email, company=company,
                      address=address, vat_number=vat_number)
        new = _issue_invoice(booking=booking, lines=lines, buyer=buyer, now=now,
                             due_on=invoice.due_on, replaces=invoice)
        log_action("invoice.reissued", actor=actor, target=new, user=booking.purchaser_id,
                   data={"number": new.number, "replaces": invoice.number,
                         "company": company})
    return new

