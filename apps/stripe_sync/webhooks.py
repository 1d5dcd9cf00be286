"""Stripe webhook events: stored once by id, then processed idempotently in a task."""

import json
import logging
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.payments.disputes import dispute_apply_stripe
from apps.payments.models import Payment, StripeEvent
from apps.payments.services import payment_sync_from_stripe
from apps.refunds.fraud import early_fraud_warning_apply
from apps.refunds.services import (
    payment_refund_unneeded,
    refund_apply_stripe,
    refunds_sync_for_intent,
)

logger = logging.getLogger(__name__)


class UnknownObject(Exception):
    """The event is about something we have no record of: parked for staff, not retried."""


def _without_nul(value):
    """PostgreSQL stores no NUL character (text or jsonb): keep the event, mark the spot."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


# One statement, in autocommit: no BEGIN/COMMIT round trips, no savepoint, and a repeat
# delivery is not an error (ON CONFLICT), so nothing is looked up for it either.
# The table name is the model's; every value is a parameter (S608).
_STORE_SQL = (
    f"INSERT INTO {StripeEvent._meta.db_table} "  # noqa: S608
    "(stripe_id, type, object_id, payload, status, attempts, last_error, stripe_created, "
    "received_at) "
    "VALUES (%s, %s, %s, %s::jsonb, %s, 0, '', %s, %s) "
    "ON CONFLICT (stripe_id) DO NOTHING RETURNING id"
)


def stripe_event_store(event: dict, *, raw: bytes | None = None) -> int | None:
    """Keep a verified event (gateway.construct_event checked its shape) once by its Stripe
    id, with one INSERT. Returns the new row's id, or None when the event was already kept
    (a repeat delivery). The event is stored as Python parsed it (not the delivered text:
    PostgreSQL would turn a number such as 1e2 into the integer 100, which the handlers'
    shape checks must not see). `raw`, the delivered body, only spares the scan for NUL
    characters (PostgreSQL refuses them: the spot is marked) when it has no \\u0000 escape,
    as JSON allows no raw control character."""
    if raw is None or b"\\u0000" in raw:
        event = _without_nul(event)
    obj = (event.get("data") or {}).get("object") or {}
    object_id = obj.get("id") if isinstance(obj, dict) else ""
    created_ts = event.get("created")
    stripe_created = datetime.fromtimestamp(created_ts, tz=UTC) if created_ts else None
    object_id = object_id if isinstance(object_id, str) and len(object_id) <= 255 else ""
    if connection.vendor != "postgresql":
        # The embedded demo (SQLite, one process): the same row through the ORM.
        try:
            with transaction.atomic():
                return StripeEvent.objects.create(
                    stripe_id=event["id"], type=event.get("type", ""), object_id=object_id,
                    payload=event, status=StripeEvent.Status.PENDING,
                    stripe_created=stripe_created, received_at=timezone.now()).pk
        except IntegrityError:
            return None
    payload = json.dumps(event)
    with connection.cursor() as cursor:
        cursor.execute(_STORE_SQL, [
            event["id"], event.get("type", ""), object_id, payload,
            StripeEvent.Status.PENDING, stripe_created, timezone.now(),
        ])
        row = cursor.fetchone()
    return row[0] if row else None


def _stripe_object(stored: StripeEvent) -> dict:
    """The event's object, if it has the shape every handler relies on. A malformed one is
    parked at once with the reason: retrying cannot make it well-formed."""
    obj = (stored.payload.get("data") or {}).get("object")
    problems = []
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        problems.append("no string id")
    else:
        problems += [f"{key} is not a string" for key in ("payment_intent", "status", "charge")
                     if obj.get(key) is not None and not isinstance(obj[key], str)]
        problems += [f"{key} is not an object" for key in ("metadata", "last_payment_error")
                     if obj.get(key) is not None and not isinstance(obj[key], dict)]
        problems += [f"{key} is not a whole number" for key in ("amount", "amount_received")
                     if obj.get(key) is not None and type(obj[key]) is not int]
    if problems:
        raise UnknownObject(f"Malformed {stored.type} object: {', '.join(problems)}.")
    return obj


def _on_payment_intent(stored: StripeEvent) -> str:
    intent = _stripe_object(stored)
    payment = payment_sync_from_stripe(intent=intent, stripe_event=stored)
    if payment is None:
        raise UnknownObject(f"No payment of ours matches PaymentIntent {intent.get('id')}.")
    payment_refund_unneeded(payment_id=payment.pk)  # money the booking could not take
    return "applied"


def _on_refund(stored: StripeEvent) -> str:
    stripe_refund = _stripe_object(stored)
    if refund_apply_stripe(stripe_refund=stripe_refund, stripe_event=stored) is None:
        raise UnknownObject(
            f"Refund {stripe_refund.get('id')} is for no payment of ours "
            f"(PaymentIntent {stripe_refund.get('payment_intent')})."
        )
    return "applied"


def _on_charge_refunded(stored: StripeEvent) -> str:
    """The charge says it was refunded: fetch its refunds from Stripe and apply each."""
    charge = _stripe_object(stored)
    intent_id = charge.get("payment_intent")
    if not intent_id or not Payment.objects.filter(stripe_payment_intent_id=intent_id).exists():
        raise UnknownObject(f"Charge {charge.get('id')} is for no payment of ours.")
    return f"applied {refunds_sync_for_intent(payment_intent_id=intent_id, stripe_event=stored)}"


def _on_dispute(stored: StripeEvent) -> str:
    obj = _stripe_object(stored)
    applied = dispute_apply_stripe(dispute=obj, event_type=stored.type,
                                   source_id=stored.stripe_id,
                                   stripe_created=stored.stripe_created, stripe_event=stored)
    if applied is None:
        raise UnknownObject(f"Dispute {obj.get('id')} is for no payment of ours.")
    payment_refund_unneeded(payment_id=applied.payment_id)  # counted paid by the dispute
    return f"applied: {applied.status}"


def _on_early_fraud_warning(stored: StripeEvent) -> str:
    obj = _stripe_object(stored)
    outcome = early_fraud_warning_apply(warning=obj, stripe_event=stored)
    if outcome is None:
        raise UnknownObject(f"Early fraud warning {obj.get('id')} is for no payment of ours.")
    return outcome


HANDLERS = {
    "charge.dispute.created": _on_dispute,
    "charge.dispute.updated": _on_dispute,
    "charge.dispute.closed": _on_dispute,
    "charge.dispute.funds_withdrawn": _on_dispute,
    "charge.dispute.funds_reinstated": _on_dispute,
    "radar.early_fraud_warning.created": _on_early_fraud_warning,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "refund.failed": _on_refund,
    "charge.refund.updated": _on_refund,
    "charge.refunded": _on_charge_refunded,
    "payment_intent.succeeded": _on_payment_intent,
    "payment_intent.payment_failed": _on_payment_intent,
    "payment_intent.canceled": _on_payment_intent,
    "payment_intent.processing": _on_payment_intent,
    "payment_intent.requires_action": _on_payment_intent,
}


def stripe_event_process(*, event_id: int) -> str:
    """Apply one stored event. Safe to run twice, or for events arriving in any order."""
    # One statement counts the attempt and reads the event; none when already processed.
    stored = next(iter(StripeEvent.objects.raw(  # the model's table; parameters (S608)
        f"UPDATE {StripeEvent._meta.db_table} SET attempts = attempts + 1 "  # noqa: S608
        "WHERE id = %s AND status <> %s RETURNING *",
        [event_id, StripeEvent.Status.PROCESSED])), None)
    if stored is None:
        StripeEvent.objects.values("pk").get(pk=event_id)  # DoesNotExist when there is none
        return "already processed"
    handler = HANDLERS.get(stored.type)
    if handler is None:
        outcome = "ignored: no handler for this type"
    else:
        try:
            outcome = handler(stored)
        except UnknownObject as error:
            stripe_event_park(event_id=event_id, error=str(error))
            return "parked"
    StripeEvent.objects.filter(pk=event_id).update(
        status=StripeEvent.Status.PROCESSED, processed_at=timezone.now(), last_error=""
    )
    return outcome


def stripe_event_note_failure(*, event_id: int, error: str, unless_noted: bool = False) -> None:
    """`unless_noted`: only when the event is still pending with no error recorded (its
    retries, which may already have run eagerly, keep their own outcome)."""
    events = StripeEvent.objects.filter(pk=event_id)
    if unless_noted:
        events = events.filter(status=StripeEvent.Status.PENDING, last_error="")
    events.update(last_error=error[:4000])


def stripe_event_release(*, event_id: int) -> None:
    """A drain took the event but could not hand its failure to the retry task (broker
    down): count the attempt back, so the sweeper (attempts == 0) finds it again."""
    StripeEvent.objects.filter(pk=event_id, status=StripeEvent.Status.PENDING,
                               attempts__gt=0).update(attempts=F("attempts") - 1)


# Who processes an event: the drain of its slot (tasks.stripe_events_drain), or its own
# task (retries, staff's reprocess, the sweeper). A session advisory lock per event keeps
# them from working on the same event at once; the lock goes with the connection if the
# process dies. Two int4 keys (this namespace, the id folded into int4) keep clear of the
# single-key locks of bookings.services. SQLite (the embedded mode, one process) has none.
EVENT_LOCK_NAMESPACE = 22
_EVENT_KEY = "(%s %% 2147483647)::int4"


def _locks_supported() -> bool:
    return connection.vendor == "postgresql"


class EventBusy(Exception):
    """Another session held the event for longer than a task waits: the task retries later
    (with its backoff) instead of holding a worker process while it waits."""


LOCK_WAIT_SECONDS = 30
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait ended by lock_timeout


@contextmanager
def stripe_event_lock(event_id: int, *, wait: float | None = None):
    """Wait (at most `wait` seconds) until no drain or other task works on the event,
    then hold it; EventBusy after that."""
    if not _locks_supported():
        yield
        return
    # A blocking wait (the waiter shows in pg_locks, and takes the lock the moment it is
    # free), bounded by lock_timeout for this one statement.
    timeout_ms = int((LOCK_WAIT_SECONDS if wait is None else wait) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{timeout_ms}ms"])
        try:
            cursor.execute(f"SELECT pg_advisory_lock(%s, {_EVENT_KEY})",
                           [EVENT_LOCK_NAMESPACE, event_id])
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise EventBusy(f"Stripe event {event_id} is held by another session.") \
                    from error
            raise
        finally:
            cursor.execute("RESET lock_timeout")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock(%s, {_EVENT_KEY})",
                               [EVENT_LOCK_NAMESPACE, event_id])
        except Exception:  # a broken connection has released it already
            logger.warning("Could not release the lock of Stripe event %s", event_id)


def stripe_events_take(*, slot: int, slots: int, after: int, limit: int) -> list[tuple[int, bool]]:
    """The next pending events of a drain's slot (id % slots == slot) after id `after`,
    each with whether this session now holds it: (id, held). Pending and never tried
    (attempts 0), or tried with no error noted (a drain or task that died mid-way: an
    event whose failure was noted belongs to its retries). The lock is taken in the
    outer query, so only for the rows the inner LIMIT returns. Release with
    stripe_events_release_all()."""
    held = (f"pg_try_advisory_lock(%s, {_EVENT_KEY.replace('%s', 'c.id')})"
            if _locks_supported() else "%s = %s")
    lock_params = [EVENT_LOCK_NAMESPACE] if _locks_supported() else [1, 1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, {held} FROM ("  # noqa: S608 (the model's table; parameters)
            f"SELECT id FROM {StripeEvent._meta.db_table} "
            "WHERE status = %s AND (attempts = 0 OR last_error = '') "
            "AND id %% %s = %s AND id > %s ORDER BY id LIMIT %s) c ORDER BY c.id",
            [*lock_params, StripeEvent.Status.PENDING, slots, slot, after, limit])
        return [(row[0], bool(row[1])) for row in cursor.fetchall()]


def stripe_events_release_all() -> None:
    if _locks_supported():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")


def stripe_event_park(*, event_id: int, error: str) -> None:
    logger.error("Stripe event %s parked: %s", event_id, error)
    StripeEvent.objects.filter(pk=event_id).update(
        status=StripeEvent.Status.PARKED, last_error=error[:4000]
    )
