"""Data retention: how long personal data is kept, enforced by `purge_expired_data`.

- activity logs: 2 years, then deleted;
- certificates: 3 years after they expire, then deleted (one without expiry is kept);
- payment data: 7 years, then the personal part goes and the accounting stays: card
  brand, last four digits and failure message are blanked, and so are the booking's
  company name, special requirements and attendee names and emails. Amounts,
  currencies, dates and statuses are kept.

"Older than 2 years" means strictly before `now - 2 years`: a record exactly at the
boundary is kept. Every function takes `now` so tests control time, and `dry_run` to
count what would change without changing it. Work is done in short batches, so a first
run over years of data holds no lock for long; running again finds nothing more to do.
"""

from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

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


def purge_activity_logs(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete activity log entries created more than 2 years ago."""
    from apps.users.models import ActivityLog

    expired = ActivityLog.objects.filter(
        created_at__lt=activity_log_cutoff(now or timezone.now())
    )
    return expired.count() if dry_run else _in_batches(expired, _delete)


def purge_expired_certificates(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete certificates that expired more than 3 years ago (nothing points at them)."""
    from apps.certificates.models import Certificate

    expired = Certificate.objects.filter(
        expires_on__isnull=False, expires_on__lt=certificate_cutoff(now or timezone.now())
    )
    return expired.count() if dry_run else _in_batches(expired, _delete)


def anonymise_old_payment_data(*, now: datetime | None = None,
                               dry_run: bool = False) -> dict[str, int]:
    """Blank the personal part of payments created more than 7 years ago and of their
    bookings (when the booking too is older than 7 years) and attendees.

    Returns how many payments, bookings and attendees changed (or would change).
    """
    from apps.bookings.models import Attendee, Booking
    from apps.payments.models import Payment

    cutoff = payment_data_cutoff(now or timezone.now())
    payments = Payment.objects.filter(created_at__lt=cutoff).filter(
        ~Q(card_brand="") | ~Q(card_last4="") | ~Q(failure_message="")
    )
    old_payment = Payment.objects.filter(booking=OuterRef("pk"), created_at__lt=cutoff)
    old_bookings = Booking.objects.filter(created_at__lt=cutoff).filter(Exists(old_payment))
    # special_requirements is encrypted: empty is NULL, anything else is some text.
    bookings = old_bookings.filter(~Q(company_name="")
                                   | Q(special_requirements__isnull=False))
    attendees = Attendee.objects.filter(booking__in=old_bookings).exclude(
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
