"""Idempotency keys for booking submissions through the staff API, kept in the database.

Rules (the API documents them, apps/api/idempotency.py):
* honoured for KEY_LIFETIME from the first request: the same body gets the first outcome
  again (the booking as it is now, or the same refusal); another body is refused;
* after that, or once erasure reached it, the key is retired: every request with it is
  refused (its token still names a booking, which must never be changed by a new body);
* one request at a time per key: the key's row is locked while its booking is made.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.errors import ConflictError, DomainError

from .models import Booking, IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)


class IdempotencyKeyMismatch(DomainError):
    code = "idempotency_key_reused"
    status = 422


class IdempotencyKeyRetired(DomainError):
    code = "idempotency_key_retired"
    status = 422


@dataclass(frozen=True)
class Outcome:
    status: int
    booking_id: int | None = None
    error: dict | None = None
    replayed: bool = False


# Refusals whose message names the people on the request: replayed with this instead.
GENERIC_REFUSALS = {
    "already_booked": "One of the attendees already has a seat on this session.",
}

def _mismatch(header: str) -> IdempotencyKeyMismatch:
    return IdempotencyKeyMismatch(
        f"This {header} was already used with a different request body. Send the original "
        "body to get the original result, or use a new key for a new booking.")


def _retired(header: str) -> IdempotencyKeyRetired:
    hours = int(KEY_LIFETIME.total_seconds() // 3600)
    return IdempotencyKeyRetired(
        f"This {header} is no longer honoured (keys last {hours} hours and are never "
        "reused): use a new key.")


def idempotent_booking_submit(*, token, request_hash: str, caller, create,
                              header: str = "Idempotency-Key",
                              now: datetime | None = None) -> Outcome:
    """Run `create(token_unused=...)` (which returns a Booking or raises ConflictError) at
    most once for this token, or answer what the first request with it got. Any other
    error leaves no trace, so the caller may retry with the same key."""
    now = now or timezone.now()
    # No savepoint of its own: every error leaves through the caller's transaction, which
    # rolls back with it (the API view runs the whole request in one), so nothing is kept.
    with transaction.atomic(savepoint=False):
        record, created, token_named = _key_claim(token=token, request_hash=request_hash,
                                                  caller=caller, now=now)
        if created and token_named:
            raise _retired(header)  # a key from before keys were kept: never rewrite it
        if not created:
            if not record.request_hash or now - record.created_at > KEY_LIFETIME:
                raise _retired(header)
            if record.request_hash != request_hash:
                raise _mismatch(header)
            if record.response_status is not None:
                return Outcome(status=record.response_status, booking_id=record.booking_id,
                               error=record.error, replayed=True)
        try:
            # A key made by this request names no booking (checked above, under its lock).
            booking = create(token_unused=created)
        except ConflictError as error:
            record.response_status = error.status
            # Kept for the key's lifetime: a refusal that names people is stored without
            # them (the replay says what happened, not to whom).
            record.error = {"code": error.code,
                            "message": GENERIC_REFUSALS.get(error.code, error.message)}
            record.save(update_fields=["response_status", "error"])
            return Outcome(status=error.status, error=record.error)
        record.booking = booking
        record.response_status = 201
        record.save(update_fields=["booking", "response_status"])
        return Outcome(status=201, booking_id=booking.pk)


def _key_claim(*, token, request_hash: str, caller, now: datetime
               ) -> tuple[IdempotencyKey, bool, bool]:
    """The key's row, locked until the transaction ends, whether this request made it,
    and (when it did) whether a booking already carries its token. A new key is one
    statement (no SELECT, no savepoint): ON CONFLICT waits for a concurrent request with
    the same key to finish, then the row it left is read and locked."""
    record = IdempotencyKey(token=token, request_hash=request_hash, caller=caller,
                            created_at=now)
    with connection.cursor() as cursor:
        cursor.execute(KEY_CLAIM_SQL, [token, getattr(caller, "pk", None), request_hash, now,
                                       token])
        row = cursor.fetchone()
    if row is not None:
        record.pk = row[0]
        record._state.adding = False
        return record, True, row[1]
    return IdempotencyKey.objects.select_for_update().get(token=token), False, False


# Table and column names come from the models; values are parameters.
KEY_CLAIM_SQL = (
    f'INSERT INTO "{IdempotencyKey._meta.db_table}" '  # noqa: S608
    "(token, caller_id, request_hash, created_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (token) DO NOTHING RETURNING id, EXISTS ("
    f'SELECT 1 FROM "{Booking._meta.db_table}" WHERE submission_token = %s)')


def idempotency_keys_erase(*, user) -> int:
    """Erasure: retire every key about this person's bookings (as purchaser or attendee)
    or sent by them, so nothing derived from their data is kept or replayed."""
    return IdempotencyKey.objects.filter(
        Q(booking__purchaser=user) | Q(booking__attendees__user=user) | Q(caller=user)
    ).exclude(request_hash="").update(request_hash="")
