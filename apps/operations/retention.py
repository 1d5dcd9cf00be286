"""Data retention: how long personal data is kept, enforced by `purge_expired_data`.

- activity logs: 2 years, then deleted; entries about money (the `payment.`, `refund.`,
  `dispute.`, `invoice.` and `credit_note.` actions) live as long as the money records
  they explain: 7 years;
- certificates: 3 years after they expire, then deleted (one without expiry is kept);
- payment data: 7 years, then the personal part goes and the accounting stays: card
  brand, last four digits and failure message are blanked, and so are the booking's
  company name, special requirements and attendee names and emails. Amounts,
  currencies, dates and statuses are kept;
- copies of that personal data, 7 years too: the emails sent about such a booking (and
  any email older than 7 years) lose recipient, body, attachments and error (kind,
  subject, dates and status stay); stored Stripe event payloads keep only their
  accounting fields; payment events lose their free-text notes and messages.

"Older than 2 years" means strictly before `now - 2 years`: a record exactly at the
boundary is kept. Every function takes `now` so tests control time, and `dry_run` to
count what would change without changing it. Work is done in short batches, so a first
run over years of data holds no lock for long; running again finds nothing more to do.
"""

import logging
from collections.abc import Callable
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.certificates.models import Certificate
from apps.core.models import Communication
from apps.payments.models import Payment, PaymentEvent, StripeEvent
from apps.users.audit import log_action
from apps.users.models import ActivityLog

logger = logging.getLogger(__name__)

ACTIVITY_LOG_RETENTION = relativedelta(years=2)
CERTIFICATE_RETENTION_AFTER_EXPIRY = relativedelta(years=3)
PAYMENT_DATA_RETENTION = relativedelta(years=7)

DELETED_NAME = "Deleted person"
DELETED_DOMAIN = "deleted.invalid"
BATCH_SIZE = 1000


def activity_log_cutoff(now: datetime) -> datetime:
    return now - ACTIVITY_LOG_RETENTION


def certificate_cutoff(now: datetime) -> date:
    return timezone.localdate(now) - CERTIFICATE_RETENTION_AFTER_EXPIRY


def payment_data_cutoff(now: datetime) -> datetime:
    return now - PAYMENT_DATA_RETENTION


def _in_batches(queryset: QuerySet, change) -> int:
    """Apply `change(batch)` to the rows of `queryset`, BATCH_SIZE at a time, each batch
    in its own transaction. `queryset` must stop matching a row once it is changed."""
    done = 0
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
        if not ids:
            return done
        with transaction.atomic():
            # Re-filtered inside the transaction: a row that no longer matches is left.
            done += change(queryset.filter(pk__in=ids))


def _delete(batch: QuerySet) -> int:
    return batch.delete()[1].get(batch.model._meta.label, 0)


def _ledger_delete(batch: QuerySet) -> int:
    """Ledger rows (apps/core/ledger.py) refuse `delete()`: the end of their retention
    period is the one explicit way out, and purge_expired_data logs what it ended."""
    return batch.retention_delete()[1].get(batch.model._meta.label, 0)


MONEY_ACTIVITY_NAMESPACES = ("payment.", "refund.", "dispute.", "invoice.", "credit_note.")


def _money_activity() -> Q:
    money = Q()
    for namespace in MONEY_ACTIVITY_NAMESPACES:
        money |= Q(action__startswith=namespace)
    return money


def purge_activity_logs(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete activity log entries created more than 2 years ago, or more than 7 years
    ago for the entries about money."""
    now = now or timezone.now()
    money = _money_activity()
    expired = ActivityLog.objects.filter(
        (~money & Q(created_at__lt=activity_log_cutoff(now)))
        | (money & Q(created_at__lt=payment_data_cutoff(now)))
    )
    return expired.count() if dry_run else _in_batches(expired, _ledger_delete)


def purge_expired_certificates(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete certificates that expired more than 3 years ago (nothing points at them)."""
    expired = Certificate.objects.filter(
        expires_on__isnull=False, expires_on__lt=certificate_cutoff(now or timezone.now())
    )
    return expired.count() if dry_run else _in_batches(expired, _delete)


def _old_bookings(cutoff: datetime) -> QuerySet:
    """Bookings older than the cutoff with a payment older than it: their personal part
    goes (a booking paid recently keeps its details until that payment is old too)."""
    old_payment = Payment.objects.filter(booking=OuterRef("pk"), created_at__lt=cutoff)
    return Booking.objects.filter(created_at__lt=cutoff).filter(Exists(old_payment))


def anonymise_old_payment_data(*, now: datetime | None = None,
                               dry_run: bool = False) -> dict[str, int]:
    """Blank the personal part of payments created more than 7 years ago and of their
    bookings (when the booking too is older than 7 years) and attendees.

    Returns how many payments, bookings and attendees changed (or would change).
    """
    cutoff = payment_data_cutoff(now or timezone.now())
    payments = Payment.objects.filter(created_at__lt=cutoff).filter(
        ~Q(card_brand="") | ~Q(card_last4="") | ~Q(failure_message="")
    )
    old_bookings = _old_bookings(cutoff)
    # special_requirements is encrypted: empty is NULL, anything else is some text.
    bookings = old_bookings.filter(~Q(company_name="")
                                   | Q(special_requirements__isnull=False))
    attendees = Attendee.all_objects.filter(booking__in=old_bookings).exclude(
        name=DELETED_NAME, email__endswith=f"@{DELETED_DOMAIN}"
    )
    if dry_run:
        return {"payments": payments.count(), "bookings": bookings.count(),
                "attendees": attendees.count()}
    placeholder_email = Concat(
        Value("deleted-attendee-"), Cast("pk", CharField()), Value(f"@{DELETED_DOMAIN}"),
        output_field=CharField(),
    )
    return {
        "payments": _in_batches(payments, lambda batch: batch.update(
            card_brand="", card_last4="", failure_message="")),
        "bookings": _in_batches(bookings, lambda batch: batch.update(
            company_name="", special_requirements="")),
        "attendees": _in_batches(attendees, lambda batch: batch.update(
            name=DELETED_NAME, email=placeholder_email)),
    }


RETENTION_BODY = "[removed by the retention policy]\n"
# What a stored Stripe object keeps after 7 years: ids, amounts, states, dates.
STRIPE_ACCOUNTING_FIELDS = (
    "id", "object", "amount", "amount_captured", "amount_received", "amount_refunded",
    "currency", "status", "payment_intent", "charge", "balance_transaction", "reason",
    "created", "captured", "paid", "refunded", "livemode",
)
PAYMENT_EVENT_PERSONAL_KEYS = ("note", "message", "by")


def stripe_payload_accounting_only(payload: dict) -> dict:
    found = (payload.get("data") or {}).get("object") or {}
    kept = {key: found[key] for key in STRIPE_ACCOUNTING_FIELDS
            if key in found and isinstance(found[key], str | int | float | bool | None)}
    return {"id": payload.get("id"), "type": payload.get("type"),
            "created": payload.get("created"), "redacted": True, "data": {"object": kept}}


def _redact_stripe_events(batch: QuerySet) -> int:
    done = 0
    for pk, payload in batch.values_list("pk", "payload"):
        done += batch.model.objects.filter(pk=pk).update(
            payload=stripe_payload_accounting_only(payload))
    return done


def _redact_payment_events(batch: QuerySet) -> int:
    done = 0
    for pk, data in batch.values_list("pk", "data"):
        kept = {k: v for k, v in data.items() if k not in PAYMENT_EVENT_PERSONAL_KEYS}
        done += batch.model.objects.filter(pk=pk).update(data=kept)
    return done


def anonymise_old_copies(*, now: datetime | None = None,
                         dry_run: bool = False) -> dict[str, int]:
    """The other copies of a person's data, after 7 years: the emails sent about the
    bookings `anonymise_old_payment_data` anonymises (and any email older than 7 years),
    Stripe event payloads received more than 7 years ago, and the notes and messages of
    events on payments older than 7 years. Returns how many of each changed (or would)."""
    cutoff = payment_data_cutoff(now or timezone.now())
    emails = Communication.objects.filter(
        Q(booking__in=_old_bookings(cutoff)) | Q(created_at__lt=cutoff)
    ).exclude(body=RETENTION_BODY)
    stripe_events = StripeEvent.objects.filter(received_at__lt=cutoff).exclude(
        payload__has_key="redacted")
    personal = Q()
    for key in PAYMENT_EVENT_PERSONAL_KEYS:
        personal |= Q(data__has_key=key)
    payment_events = PaymentEvent.objects.filter(payment__created_at__lt=cutoff).filter(personal)
    if dry_run:
        return {"emails": emails.count(), "stripe events": stripe_events.count(),
                "payment events": payment_events.count()}
    placeholder_email = Concat(
        Value("deleted-email-"), Cast("pk", CharField()), Value(f"@{DELETED_DOMAIN}"),
        output_field=CharField(),
    )
    return {
        "emails": _in_batches(emails, lambda batch: batch.update(
            recipient=placeholder_email, body=RETENTION_BODY, html_body="", attachments=[],
            last_error="")),
        "stripe events": _in_batches(stripe_events, _redact_stripe_events),
        "payment events": _in_batches(payment_events, _redact_payment_events),
    }


def _when(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def retention_steps(*, now: datetime, dry_run: bool) -> list[tuple[str, Callable[[], dict]]]:
    """The purge, step by step: (what it covers, a function returning {label: count})."""
    deleted, anonymised = ("to delete", "to anonymise") if dry_run else (
        "deleted", "anonymised")
    return [
        (f"activity logs created before {_when(activity_log_cutoff(now))}",
         lambda: {f"activity logs {deleted}": purge_activity_logs(now=now, dry_run=dry_run)}),
        (f"certificates that expired before {certificate_cutoff(now)}",
         lambda: {f"certificates {deleted}":
                  purge_expired_certificates(now=now, dry_run=dry_run)}),
        (f"payment data older than {_when(payment_data_cutoff(now))}",
         lambda: {f"{kind} {anonymised}": count for kind, count in [
                  *anonymise_old_payment_data(now=now, dry_run=dry_run).items(),
                  *anonymise_old_copies(now=now, dry_run=dry_run).items()]}),
    ]


def retention_purge(*, now: datetime | None = None, dry_run: bool = False,
                    progress: Callable[[int, int, str, dict | None], None] | None = None,
                    ) -> dict[str, int]:
    """Run every retention step (beat runs this nightly; so does `purge_expired_data`).

    Returns {label: count}. A real run reports what it removed, even when it removed
    nothing, so staff can see that the policy is enforced: one log line (logger
    `apps.operations.retention`, counts as key=value) and an activity entry
    `data.retention_purged` with the counts (admin → Activity log). `progress(index,
    total, title, counts)` is told before (counts None) and after each step."""
    now = now or timezone.now()
    steps = retention_steps(now=now, dry_run=dry_run)
    totals: dict[str, int] = {}
    for index, (title, run) in enumerate(steps, start=1):
        if progress:
            progress(index, len(steps), title, None)
        counts = run()
        if progress:
            progress(index, len(steps), title, counts)
        totals.update(counts)
    if not dry_run:
        data = {label.replace(" ", "_"): count for label, count in totals.items()}
        log_action("data.retention_purged", data={**data, "ran_at": now.isoformat()})
        logger.info("retention purge: %s",
                    " ".join(f"{key}={count}" for key, count in data.items()))
    return totals
