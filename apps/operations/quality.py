"""Data quality checks: reads that find records which break the portal's rules or need a
person's attention. Each check returns JSON-ready rows (ids, emails, references); an empty
list means clean. Every check takes `now` so tests control time.

`data_quality` runs them all from cron and for people.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import (
    Coalesce,
    Concat,
    Left,
    Lower,
    Replace,
    StrIndex,
    Substr,
    Trim,
)
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.certificates.models import Certificate
from apps.certificates.selectors import certificates_not_renewed
from apps.core.emails import communication_queue
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.refunds.models import Refund
from apps.refunds.services import stuck_pending_refunds
from apps.sessions.models import CourseSession
from apps.users.models import User

from .retention import certificate_cutoff
from .totals import user_totals_drift as drifts

# Gmail ignores dots and "+tags" in the local part; googlemail.com is the same mailbox.
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
# Characters people put in phone numbers that do not change the number.
PHONE_PUNCTUATION = (" ", "-", "(", ")", ".", "/")
# Beat expires lapsed holds every minute: a hold only just lapsed is not yet a problem.
LAPSED_HOLD_GRACE = timedelta(minutes=10)
# Certificates expiring this soon must have had an expiry reminder.
CERTIFICATE_EXPIRY_WINDOW = timedelta(days=30)
# Certificates are issued by a task once the attendance makes a booking completed: a day
# after the session ended, an attendee who attended and has none was missed.
CERTIFICATE_ISSUE_GRACE = timedelta(days=1)
# When a booking dies, a task cancels its open PaymentIntents (and retries): an intent still
# open this long after is one a customer could still pay.
DEAD_BOOKING_INTENT_GRACE = timedelta(minutes=30)
# Payment statuses in which a Stripe PaymentIntent can still take money.
OPEN_INTENT_STATUSES = (Payment.Status.REQUIRES_PAYMENT, Payment.Status.REQUIRES_ACTION,
                        Payment.Status.PROCESSING)
DEAD_BOOKING_STATUSES = (Booking.Status.EXPIRED, Booking.Status.CANCELLED,
                         Booking.Status.REFUNDED)


# --- duplicate users ---------------------------------------------------------------------

def _with_email_key(users: QuerySet) -> QuerySet:
    """Annotate `email_key`: the address lower-cased, and for Gmail without dots and
    +tags in the local part and with googlemail.com read as gmail.com."""
    untagged = Case(
        When(_plus__gt=0, then=Left("_local", F("_plus") - 1)), default=F("_local"),
        output_field=CharField(),
    )
    return (
        users.annotate(_email=Lower(Trim("email")))
        .annotate(_at=StrIndex("_email", Value("@")))
        .annotate(_local=Left("_email", F("_at") - 1), _domain=Substr("_email", F("_at") + 1))
        .annotate(_plus=StrIndex("_local", Value("+")))
        .annotate(email_key=Case(
            When(_at__gt=0, _domain__in=GMAIL_DOMAINS,
                 then=Concat(Replace(untagged, Value("."), Value("")), Value("@gmail.com"))),
            default=F("_email"),
            output_field=CharField(),
        ))
    )


def _with_phone_key(users: QuerySet) -> QuerySet:
    phone = Trim("phone")
    for character in PHONE_PUNCTUATION:
        phone = Replace(phone, Value(character), Value(""))
    return users.annotate(
        phone_key=phone, first_key=Lower(Trim("first_name")), last_key=Lower(Trim("last_name"))
    )


def duplicate_users(*, now: datetime | None = None) -> list[dict]:
    """Users who are probably one person: the same email ignoring case (and, for Gmail,
    dots and +tags), or the same full name and the same non-empty phone number."""
    rows = []
    by_email = _with_email_key(User.objects.all())
    keys = list(
        by_email.values("email_key").annotate(n=Count("pk")).filter(n__gt=1)
        .values_list("email_key", flat=True)
    )
    groups: dict[str, list[tuple[int, str]]] = {}
    for key, pk, email in by_email.filter(email_key__in=keys).order_by("pk").values_list(
            "email_key", "pk", "email"):
        groups.setdefault(key, []).append((pk, email))
    for key, members in sorted(groups.items()):
        rows.append({"match": "email", "key": key, "user_ids": [pk for pk, _ in members],
                     "emails": [email for _, email in members]})

    by_phone = _with_phone_key(User.objects.all()).exclude(phone_key="")
    fields = ("first_key", "last_key", "phone_key")
    keys = set(
        by_phone.values(*fields).annotate(n=Count("pk")).filter(n__gt=1)
        .values_list(*fields)
    )
    groups_by_phone: dict[tuple, list[tuple[int, str]]] = {}
    if keys:
        phones = {phone for _, _, phone in keys}
        for first, last, phone, pk, email in by_phone.filter(phone_key__in=phones).order_by(
                "pk").values_list(*fields, "pk", "email"):
            if (first, last, phone) in keys:
                groups_by_phone.setdefault((first, last, phone), []).append((pk, email))
    for (first, last, phone), members in sorted(groups_by_phone.items()):
        rows.append({"match": "name and phone", "key": f"{first} {last} {phone}".strip(),
                     "user_ids": [pk for pk, _ in members],
                     "emails": [email for _, email in members]})
    return rows


# --- orphaned bookings -------------------------------------------------------------------

def orphaned_bookings(*, now: datetime | None = None) -> list[dict]:
    """Bookings stuck in a state that should have moved on: pending after their hold ran
    out (or with no hold at all, so it never will), and paid on a cancelled session."""
    now = now or timezone.now()
    stuck_pending = Q(status=Booking.Status.PENDING) & (
        Q(hold_expires_at__lt=now - LAPSED_HOLD_GRACE)
        # A booking on account holds its seats until paid (apps.payments.on_account).
        | Q(hold_expires_at__isnull=True, payment_due_date__isnull=True)
    )
    paid_on_cancelled = Q(status=Booking.Status.PAID,
                          session__status=CourseSession.Status.CANCELLED)
    bookings = (
        Booking.objects.filter(stuck_pending | paid_on_cancelled)
        .order_by("pk")
        .values_list("pk", "reference", "status", "hold_expires_at", "session_id",
                     "purchaser__email")
    )
    rows = []
    for pk, reference, status, hold_expires_at, session_id, email in bookings:
        if status == Booking.Status.PAID:
            problem = f"paid, but session {session_id} is cancelled"
        elif hold_expires_at is None:
            problem = "pending with no hold expiry: it never expires"
        else:
            lapsed = timezone.localtime(hold_expires_at)
            problem = f"pending, hold ran out at {lapsed:%Y-%m-%d %H:%M}"
        rows.append({"booking_id": pk, "reference": reference, "status": status,
                     "purchaser": email, "problem": problem})
    return rows


# --- payments that succeeded on bookings that are not paid ------------------------------

def payments_on_unpaid_bookings(*, now: datetime | None = None) -> list[dict]:
    """Money we hold for a booking that holds no seat (pending and unpaid, expired,
    cancelled or refunded), with no refund under way or done for it: e.g. a full refund
    that Stripe later failed, or a booking marked refunded while another payment is kept.

    Not a problem: a part payment on a booking on account (it holds its seats), or a
    cancellation fee, i.e. a payment that succeeded before its booking
    was cancelled and whose refunds (the policy's share, possibly none) did not fail.
    """
    covered = (
        Refund.objects.filter(payment=OuterRef("pk"),
                              status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED])
        .order_by().values("payment").annotate(s=Sum("amount")).values("s")
    )
    failed_refund = Refund.objects.filter(payment=OuterRef("pk"), status=Refund.Status.FAILED)
    kept_on_purpose = Q(
        booking__status=Booking.Status.CANCELLED,
        booking__cancelled_at__isnull=False,
        succeeded_at__isnull=False,
        succeeded_at__lte=F("booking__cancelled_at"),
        has_failed_refund=False,
    )
    payments = (
        Payment.objects.filter(
            status__in=[Payment.Status.SUCCEEDED, Payment.Status.PARTIALLY_REFUNDED],
            booking__status__in=[Booking.Status.PENDING, Booking.Status.EXPIRED,
                                 Booking.Status.CANCELLED, Booking.Status.REFUNDED],
        )
        .annotate(covered=Coalesce(Subquery(covered), Value(0)),
                  has_failed_refund=Exists(failed_refund))
        .filter(covered__lt=F("amount"))
        .exclude(kept_on_purpose)
        # Part of the invoice paid on a booking on account that holds its seats until the
        # rest arrives (apps.payments.on_account).
        .exclude(booking__status=Booking.Status.PENDING,
                 booking__payment_due_date__isnull=False)
        .order_by("pk")
        .values_list("pk", "booking_id", "booking__reference", "booking__status", "status",
                     "amount", "covered", "currency", "user__email")
    )
    return [
        {"payment_id": pk, "booking_id": booking_id, "reference": reference,
         "booking_status": booking_status, "payment_status": status, "amount": amount,
         "not_refunded": amount - refunds, "currency": currency, "email": email}
        for (pk, booking_id, reference, booking_status, status, amount, refunds, currency,
             email) in payments
    ]


# --- refunds stuck pending ----------------------------------------------------------------

def refunds_stuck_pending(*, now: datetime | None = None) -> list[dict]:
    """Refunds the customer is waiting for that nothing will finish on its own: never
    answered by Stripe (the submit task gave up or was never queued), or pending for over
    a day. The refund sweep sends them again; staff can retry them in admin."""
    now = now or timezone.now()
    return [
        {"refund_id": refund.pk, "reference": refund.payment.booking.reference,
         "amount": refund.amount, "currency": refund.currency,
         "stripe_refund_id": refund.stripe_refund_id or "",
         "created_at": refund.created_at.isoformat(),
         "problem": "never reached Stripe" if refund.stripe_refund_id is None
         else "Stripe has not finished it"}
        for refund in stuck_pending_refunds(now=now)
    ]


# --- user totals -------------------------------------------------------------------------

def user_totals_drift(*, now: datetime | None = None) -> list[dict]:
    """Users whose stored total_bookings / total_spent disagree with the ledger
    (`recompute_user_totals` fixes them)."""
    return [
        {"user_id": d.user_id, "email": d.email,
         "stored_bookings": d.stored_bookings, "expected_bookings": d.expected_bookings,
         "stored_spent": d.stored_spent, "expected_spent": d.expected_spent}
        for d in drifts()
    ]


# --- certificates expiring without a reminder --------------------------------------------

def certificates_expiring_unreminded(*, now: datetime | None = None) -> list[dict]:
    """Valid certificates expiring within 30 days whose holder was sent no expiry reminder
    (a certificate_expiry Communication keyed by the certificate's number). Holders whose
    account is closed, and holders who renewed, are not reminded, by design, and are not
    listed."""
    today = timezone.localdate(now or timezone.now())
    reminded = Communication.objects.filter(kind=Communication.Kind.CERTIFICATE_EXPIRY).filter(
        Q(dedupe_key=OuterRef("number"))
        | Q(dedupe_key__startswith=Concat(OuterRef("number"), Value(":"),
                                          output_field=CharField()))
    )
    certificates = (
        certificates_not_renewed(Certificate.objects.filter(
            revoked_at__isnull=True, expires_on__gte=today,
            expires_on__lte=today + CERTIFICATE_EXPIRY_WINDOW, user__is_active=True,
        ))
        .exclude(Exists(reminded))
        .order_by("expires_on", "pk")
        .values_list("pk", "number", "holder_name", "user__email", "expires_on")
    )
    return [
        {"certificate_id": pk, "number": number, "holder": holder, "email": email,
         "expires_on": expires_on.isoformat()}
        for pk, number, holder, email, expires_on in certificates
    ]


# --- attendees who attended without a certificate -----------------------------------------

def attended_without_certificate(*, now: datetime | None = None) -> list[dict]:
    """Attendees marked attended on a completed booking whose session ended more than a
    day ago, with no certificate (issuing failed, or was never queued). A certificate the
    retention policy has since deleted is not missing, and one staff revoked still exists."""
    now = now or timezone.now()
    purged_before = certificate_cutoff(now)
    attendees = (
        Attendee.objects.filter(
            attendance=Attendee.Attendance.ATTENDED,
            booking__status=Booking.Status.COMPLETED,
            booking__session__ends_at__lt=now - CERTIFICATE_ISSUE_GRACE,
            certificate__isnull=True,
        )
        .order_by("booking__session__ends_at", "pk")
        .values_list("pk", "name", "email", "booking__reference", "booking__session_id",
                     "booking__session__ends_at", "booking__session__course__validity_months")
    )
    rows = []
    for pk, name, email, reference, session_id, ends_at, validity in attendees:
        if validity:
            expires_on = timezone.localdate(ends_at) + relativedelta(months=validity)
            if expires_on < purged_before:
                continue
        rows.append({"attendee_id": pk, "name": name, "email": email, "reference": reference,
                     "session_id": session_id, "session_ended_at": ends_at.isoformat()})
    return rows


# --- open PaymentIntents on dead bookings ---------------------------------------------------

def open_intents_on_dead_bookings(*, now: datetime | None = None) -> list[dict]:
    """Card payments whose Stripe PaymentIntent is still open (awaiting a card, 3-D Secure
    or processing) on a booking that expired, was cancelled or refunded more than 30
    minutes ago: the intent should have been cancelled, or money may arrive for a booking
    that holds no seat."""
    now = now or timezone.now()
    payments = (
        Payment.objects.filter(
            stripe_payment_intent_id__isnull=False,
            status__in=OPEN_INTENT_STATUSES,
            booking__status__in=DEAD_BOOKING_STATUSES,
        )
        .filter(Q(booking__cancelled_at__isnull=True)
                | Q(booking__cancelled_at__lt=now - DEAD_BOOKING_INTENT_GRACE))
        .order_by("pk")
        .values_list("pk", "stripe_payment_intent_id", "status", "booking_id",
                     "booking__reference", "booking__status", "user__email")
    )
    return [
        {"payment_id": pk, "payment_intent": intent, "payment_status": status,
         "booking_id": booking_id, "reference": reference, "booking_status": booking_status,
         "email": email}
        for pk, intent, status, booking_id, reference, booking_status, email in payments
    ]


@dataclass(frozen=True)
class Check:
    title: str
    run: Callable[..., list[dict]]


CHECKS: dict[str, Check] = {
    "duplicate_users": Check("duplicate users", duplicate_users),
    "orphaned_bookings": Check("orphaned bookings", orphaned_bookings),
    "payments_on_unpaid_bookings": Check("money held on bookings without seats",
                                         payments_on_unpaid_bookings),
    "refunds_stuck_pending": Check("refunds stuck pending", refunds_stuck_pending),
    "user_totals_drift": Check("user totals disagreeing with the ledger", user_totals_drift),
    "certificates_expiring_unreminded": Check("certificates expiring with no reminder",
                                              certificates_expiring_unreminded),
    "attended_without_certificate": Check("attendees who attended without a certificate",
                                          attended_without_certificate),
    "open_intents_on_dead_bookings": Check("open PaymentIntents on dead bookings",
                                           open_intents_on_dead_bookings),
}


def run_checks(*, now: datetime | None = None) -> dict[str, list[dict]]:
    now = now or timezone.now()
    return {name: check.run(now=now) for name, check in CHECKS.items()}


def data_quality_report(*, now: datetime | None = None) -> int:
    """Run every check; when any finds a problem, log a summary and email operations
    (once per local day). Returns how many problems were found."""


    now = now or timezone.now()
    results = run_checks(now=now)
    problems = {name: rows for name, rows in results.items() if rows}
    count = sum(len(rows) for rows in problems.values())
    logging.getLogger(__name__).log(
        logging.WARNING if count else logging.INFO, "data quality: %s",
        " ".join(f"{name}={len(rows)}" for name, rows in results.items()))
    if count:
        communication_queue(
            kind=Communication.Kind.STAFF_ALERT, recipient=settings.OPERATIONS_EMAIL,
            template="emails/data_quality_report.txt",
            context={"problems": [(CHECKS[name].title, len(rows))
                                  for name, rows in problems.items()],
                     "count": count, "today": timezone.localdate(now)},
            dedupe_key=f"data-quality:{timezone.localdate(now):%Y-%m-%d}",
        )
    return count
