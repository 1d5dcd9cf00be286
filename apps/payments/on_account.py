"""Booking on account: a contact of a company that staff approved for invoicing books, and
the company pays later by invoice (bank transfer). One rule for the booking form, the
staff phone booking and the staff API.

The booking is confirmed at once: it stays `pending` (payment is pending) but holds its
seats with no hold expiry (`hold_expires_at` empty) until it is paid in full, or until
ON_ACCOUNT_UNPAID_RELEASE_DAYS before the session when that setting is on. `payment_due_date`
marks it as on account. The company's credit limit counts what it owes on unpaid bookings
on account; the company row is locked while a booking is added, so concurrent bookings
cannot together go over it.

It lives in payments because it writes bookings and payments, and companies sit below both.
"""

import dataclasses
import uuid
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from apps.bookings.access import booking_pay_link
from apps.bookings.models import Booking
from apps.bookings.notifications import booking_portal_url, booking_send_confirmations
from apps.bookings.services import BookingRequest, booking_apply_transition, booking_create
from apps.bookings.waitlist import waitlist_seats_freed
from apps.companies.models import Company, CompanyContact
from apps.core.emails import binary_attachment, communication_queue
from apps.core.errors import ConflictError, DomainError
from apps.core.models import Communication
from apps.core.money import format_money
from apps.invoicing.documents import document_filename, document_pdf
from apps.invoicing.services import (
    Buyer,
    credit_to_match_money_kept,
    invoice_for_booking_on_account,
)
from apps.pricing.quotes import price_quote
from apps.sessions.models import CourseSession
from apps.users.audit import log_action
from apps.users.models import User, normalize_email

from .models import Payment, PaymentEvent
from .services import _next_attempt


class CreditLimitError(ConflictError):
    code = "credit_limit"


# --- reads -------------------------------------------------------------------------------

def _paid_subquery():
    return Coalesce(Subquery(
        Payment.objects.filter(booking=OuterRef("pk"), status__in=Payment.MONEY_ARRIVED)
        .values("booking").annotate(total=Sum("amount")).values("total")), Value(0))


def on_account_unpaid():
    """Bookings on account still owing money, with `paid` and `outstanding` annotated."""
    return (Booking.objects.filter(status=Booking.Status.PENDING,
                                   payment_due_date__isnull=False)
            .annotate(paid=_paid_subquery())
            .annotate(outstanding=F("total_amount") - F("paid"))
            .filter(outstanding__gt=0))


def on_account_overdue(*, today: date | None = None):
    """Past their due date with money outstanding (the staff overdue list)."""
    today = today or timezone.localdate()
    return (on_account_unpaid().filter(payment_due_date__lt=today)
            .select_related("company", "purchaser", "session__course")
            .order_by("payment_due_date", "pk"))


def company_owes(*, company_id: int) -> int:
    return on_account_unpaid().filter(company_id=company_id).aggregate(
        s=Coalesce(Sum("outstanding"), Value(0)))["s"]


def booking_outstanding(booking: Booking) -> int:
    paid = booking.payments.filter(status__in=Payment.MONEY_ARRIVED).aggregate(
        s=Coalesce(Sum("amount"), Value(0)))["s"]
    return max(0, booking.total_amount - paid)


# --- booking on account ------------------------------------------------------------------

def on_account_booking_confirmed(booking: Booking) -> None:
    """The booking on account is confirmed — issue its invoice now.

    Called once, inside the transaction that confirmed it (the caller holds the company
    row lock), so an invoice issued here commits or rolls back with the booking. The
    invoicing app (numbered invoice; its PDF emailed with the due date after commit) joins
    here. Emails go through the outbox, sent after commit: the purchaser and attendees get
    the booking confirmation, which states the company, PO number and due date; the
    purchaser's carries the invoice PDF and a link to pay it by card."""
    company = booking.company
    purchaser = booking.purchaser
    invoice = invoice_for_booking_on_account(booking=booking, buyer=Buyer(
        name=purchaser.full_name or purchaser.email, email=purchaser.email,
        company=company.name, address=company.billing_address,
        vat_number=company.vat_number))
    booking_send_confirmations(
        booking,
        extra={"invoice": invoice,
               "pay_link": booking_pay_link(booking=booking, email=purchaser.email)},
        purchaser_attachments=[binary_attachment(
            filename=document_filename(invoice), mimetype="application/pdf",
            content=document_pdf(invoice))])


def _check_company(*, company: Company, purchaser_email: str, purchase_order: str) -> None:
    if not company.approved_for_invoice:
        raise DomainError(f"{company.name} is not approved to pay by invoice.",
                          code="not_approved")
    if not CompanyContact.objects.filter(
            company=company, user__email=normalize_email(purchaser_email)).exists():
        raise DomainError(f"Only a contact of {company.name} can book on its account.",
                          code="not_a_contact")
    if company.purchase_order_required and not purchase_order:
        raise DomainError(f"{company.name} needs a purchase order (PO) number on every "
                          "booking: please enter it.", code="purchase_order_required")


def booking_on_account_create(*, request: BookingRequest, company_id: int,
                              purchase_order: str = "", actor: User | None = None,
                              now: datetime | None = None) -> Booking:
    """Book for a company contact on the company's account: confirmed at once, seats held
    until paid, PO stored, due today + the company's payment terms; refused over the
    credit limit (DomainError / ConflictError with a message for the person booking).
    A repeat of the same submission returns the first booking."""
    now = now or timezone.now()
    purchase_order = " ".join(purchase_order.split())[:100]
    token = request.submission_token or uuid.uuid4()
    request = dataclasses.replace(request, submission_token=token)
    if existing := Booking.objects.filter(submission_token=token).first():
        return existing
    with transaction.atomic():
        # The company row lock serialises this company's bookings on account until commit:
        # the credit check below cannot be raced.
        company = Company.objects.select_for_update(of=("self",)).filter(pk=company_id).first()
        if company is None:
            raise DomainError("That company does not exist.", code="not_found", status=404)
        if same := Booking.objects.filter(submission_token=token).first():
            return same  # the same submission finished while this one waited for the lock
        _check_company(company=company, purchaser_email=request.purchaser_email,
                       purchase_order=purchase_order)
        session = CourseSession.objects.filter(pk=request.session_id).first()
        if session is None:
            raise DomainError("That session does not exist.", code="not_found", status=404)
        # What the booking will cost (group price and code included), not the list price.
        total = price_quote(session=session, seats=len(request.attendees),
                            code_text=request.discount_code, now=now).total
        if company.credit_limit is not None and total:
            owed = company_owes(company_id=company.pk)
            if owed + total > company.credit_limit:
                left = max(0, company.credit_limit - owed)
                raise CreditLimitError(
                    f"This booking ({format_money(total, session.currency)}) would take "
                    f"{company.name} over its credit limit: "
                    f"{format_money(left, session.currency)} is left. Pay by card instead, "
                    "or call us.")
        booking = booking_create(request=request, actor=actor, now=now)
        if booking.submission_token != token:
            raise ConflictError(
                f"These people already have booking {booking.reference} waiting for payment "
                "on this session: pay or cancel that booking instead.",
                code="pending_booking_exists")
        if booking.status != Booking.Status.PENDING:
            return booking  # a free session: confirmed, nothing to invoice
        booking.company = company
        booking.company_name = company.name
        booking.purchase_order = purchase_order
        booking.payment_due_date = timezone.localdate(now) + timedelta(
            days=company.payment_terms_days)
        booking.hold_expires_at = None  # held until paid (or released by the setting)
        booking.save(update_fields=["company", "company_name", "purchase_order",
                                    "payment_due_date", "hold_expires_at", "updated_at"])
        log_action("booking.on_account", actor=actor, target=booking,
                   user=booking.purchaser_id,
                   data={"company": company.pk, "purchase_order": purchase_order,
                         "due": booking.payment_due_date.isoformat(), "total": total})
        on_account_booking_confirmed(booking)
    return booking


# --- payments against it -----------------------------------------------------------------

def on_account_payment_record(*, booking_id: int, amount: int, actor: User | None,
                              note: str = "", now: datetime | None = None) -> Payment:
    """Staff record a bank transfer received against a booking on account; partial payments
    are allowed, never more than is outstanding. Paid in full, the booking becomes paid."""
    now = now or timezone.now()
    if amount <= 0:
        raise DomainError("Enter the amount received (more than zero).", code="invalid_amount")
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        if not booking.on_account:
            raise ConflictError(f"{booking.reference} is not a booking on account.",
                                code="not_on_account")
        if booking.status != Booking.Status.PENDING:
            raise ConflictError(f"{booking.reference} is {booking.get_status_display().lower()}"
                                ": there is nothing outstanding to record against it.",
                                code="not_payable")
        outstanding = booking_outstanding(booking)
        card = (Payment.objects.filter(booking=booking, purpose=Payment.Purpose.BALANCE,
                                       status__in=Payment.BALANCE_IN_FLIGHT)
                .values_list("amount", flat=True).first())
        if card is not None and amount < outstanding:
            # A card payment of the outstanding amount may land any moment: a part payment
            # beside it would collect more than is owed and leave a part to give back.
            raise ConflictError(
                f"A card payment of {format_money(card, booking.currency)} is in progress on "
                f"{booking.reference}. Record the full "
                f"{format_money(outstanding, booking.currency)} received (the card payment "
                "is then refunded if it goes through), or wait "
                "for the card payment to finish.", code="card_payment_in_progress")
        if amount > outstanding:
            raise ConflictError(
                f"Only {format_money(outstanding, booking.currency)} is outstanding on "
                f"{booking.reference}; record at most that.", code="overpayment")
        payment = Payment.objects.create(
            booking=booking, user_id=booking.purchaser_id, method=Payment.Method.BANK_TRANSFER,
            amount=amount, currency=booking.currency, attempt=_next_attempt(booking.pk))
        payment.move_to(Payment.Status.SUCCEEDED)
        payment.succeeded_at = now
        payment.save(update_fields=["status", "succeeded_at", "updated_at"])
        User.objects.filter(pk=booking.purchaser_id).update(
            total_spent=F("total_spent") + amount)
        PaymentEvent.objects.create(payment=payment, kind="payment.bank_transfer_recorded",
                                    data={"note": note, "by": getattr(actor, "email", "")})
        log_action("payment.bank_transfer_recorded", actor=actor, target=payment,
                   user=booking.purchaser_id,
                   data={"booking": booking.reference, "amount": amount, "note": note})
        if amount == outstanding:
            booking_apply_transition(booking, Booking.Status.PAID, actor=actor, now=now,
                                     data={"payment": payment.pk, "on_account": True})
    return payment


# --- reminders and release (beat) ----------------------------------------------------------

def _company_recipients(booking: Booking) -> list[tuple[str, int]]:
    people = {booking.purchaser.email: booking.purchaser_id}
    if booking.company_id:
        for user in User.objects.filter(company_contacts__company_id=booking.company_id):
            people.setdefault(user.email, user.pk)
    return sorted(people.items())


def _tell(*, booking: Booking, kind: str, template: str, key: str, context: dict) -> int:
    sent = 0
    for email, user_id in _company_recipients(booking):
        if user_id == booking.purchaser_id or not booking.company_id:
            link = booking_portal_url(booking, email)
        else:
            # A contact who did not book reaches it through the company's page.
            link = settings.SITE_URL + reverse("portal:company", args=[booking.company_id])
        pay_link = booking_pay_link(booking=booking, email=email)
        if communication_queue(kind=kind, recipient=email, template=template,
                               context={"booking": booking, "session": booking.session,
                                        "link": link, "pay_link": pay_link, **context},
                               user_id=user_id, booking=booking,
                               dedupe_key=f"{booking.reference}-{key}"):
            sent += 1
    return sent


def on_account_send_reminders(*, now: datetime | None = None) -> int:
    """A reminder ON_ACCOUNT_REMINDER_DAYS_BEFORE the due date and one
    ON_ACCOUNT_REMINDER_DAYS_AFTER it, each once per booking and person (the outbox
    refuses a repeat), to the purchaser and the company's contacts."""
    today = timezone.localdate(now or timezone.now())
    before = today + timedelta(days=settings.ON_ACCOUNT_REMINDER_DAYS_BEFORE)
    after = today - timedelta(days=settings.ON_ACCOUNT_REMINDER_DAYS_AFTER)
    sent = 0
    unpaid = on_account_unpaid().select_related("session__course", "purchaser", "company")
    for booking in unpaid.filter(payment_due_date__gte=today, payment_due_date__lte=before):
        sent += _tell(booking=booking, kind=Communication.Kind.ON_ACCOUNT_REMINDER,
                      template="emails/on_account_reminder.txt", key="due-soon",
                      context={"overdue": False})
    for booking in unpaid.filter(payment_due_date__lte=after):
        sent += _tell(booking=booking, kind=Communication.Kind.ON_ACCOUNT_REMINDER,
                      template="emails/on_account_reminder.txt", key="overdue",
                      context={"overdue": True})
    return sent


def on_account_release_unpaid(*, now: datetime | None = None) -> list[int]:
    """With ON_ACCOUNT_UNPAID_RELEASE_DAYS set, release the seats of bookings on account
    with nothing paid, that many days before their session (the booking expires); the
    purchaser and the company's contacts are emailed. Partly paid bookings are left to
    staff (money would have to go back). Returns the released booking ids."""
    days = settings.ON_ACCOUNT_UNPAID_RELEASE_DAYS
    if days is None:
        return []
    now = now or timezone.now()
    candidates = list(on_account_unpaid().filter(
        paid=0, session__starts_at__lte=now + timedelta(days=days),
        session__starts_at__gt=now).values_list("pk", flat=True))
    released = []
    for pk in candidates:
        with transaction.atomic():
            booking = (Booking.objects.select_for_update(of=("self",), skip_locked=True)
                       .filter(pk=pk, status=Booking.Status.PENDING,
                               payment_due_date__isnull=False).first())
            if booking is None or booking.payments.filter(
                    status__in=Payment.MONEY_ARRIVED).exists():
                continue
            booking_apply_transition(booking, Booking.Status.EXPIRED, actor=None, now=now,
                                     data={"reason": "unpaid on account", "days": days})
            # Nothing was paid and the seats are gone: the company owes nothing.
            credit_to_match_money_kept(booking_id=pk, money_kept=0, now=now,
                                       reason="Unpaid booking on account released",
                                       source_key=f"release:{pk}")
            booking = Booking.objects.select_related("session__course", "purchaser",
                                                     "company").get(pk=pk)
            _tell(booking=booking, kind=Communication.Kind.ON_ACCOUNT_RELEASED,
                  template="emails/on_account_released.txt", key="released",
                  context={"days": days})
            session_id = booking.session_id
            transaction.on_commit(lambda s=session_id: waitlist_seats_freed(session_id=s))
            released.append(pk)
    return released


def on_account_daily(*, now: datetime | None = None) -> dict:
    return {"reminders": on_account_send_reminders(now=now),
            "released": len(on_account_release_unpaid(now=now))}


def company_bookings(*, company_id: int):
    """Every booking made for the company by any of its contacts (on account or by card
    with the company chosen), with `paid` and `outstanding` annotated: its portal page."""
    return (Booking.objects.filter(company_id=company_id)
            .annotate(paid=_paid_subquery())
            .annotate(outstanding=F("total_amount") - F("paid"))
            .select_related("session__course", "session__location", "purchaser")
            .order_by("-session__starts_at", "-pk"))
