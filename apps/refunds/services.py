"""Refund writes. The payment row lock serialises every change to a payment's refunds, so
refunds can never together exceed what was paid, whoever asks and however often."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from apps.bookings.models import COUNTED_STATUSES, Booking
from apps.bookings.notifications import booking_send_late_refund, refund_notify_outcome
from apps.bookings.services import booking_apply_transition
from apps.core.emails import communication_queue
from apps.core.errors import ConflictError, DomainError
from apps.core.models import Communication
from apps.core.money import format_money
from apps.invoicing.services import credit_to_match_money_kept
from apps.payments import gateway
from apps.payments.models import Payment, PaymentEvent
from apps.payments.services import (
    UNNEEDED_EVENT,
    UNNEEDED_SETTLED_EVENT,
    payment_count_succeeded,
)
from apps.users.audit import log_action
from apps.users.models import User

from .models import Refund

logger = logging.getLogger(__name__)

def refunded_total(payment: Payment, *, statuses=(Refund.Status.SUCCEEDED,)) -> int:
    return payment.refunds.filter(status__in=statuses).aggregate(s=Sum("amount"))["s"] or 0


def booking_money_held(*, booking_id: int) -> int:
    """What we still hold for a booking: its succeeded payments minus their succeeded
    refunds (pending refunds are money not yet back)."""
    held = 0
    for payment in Payment.objects.filter(booking_id=booking_id):
        if payment.has_succeeded:
            held += payment.amount - refunded_total(payment)
    return held


def refundable_amount(payment: Payment) -> int:
    """What can still go back: the payment minus every refund that has not failed."""
    if not payment.has_succeeded:
        return 0
    disputed = payment.disputes.aggregate(s=Sum("money_lost"))["s"] or 0
    return max(0, payment.amount - refunded_total(payment, statuses=Refund.NOT_FAILED) - disputed)


def _lock_payment(payment_id: int) -> Payment:
    return Payment.objects.select_for_update(of=("self",)).get(pk=payment_id)


def _lock_refund(refund_id: int) -> tuple[Payment, Refund]:
    """Lock the booking, then the refund's payment (the lock every change to its refunds
    takes; the same order as everywhere else), then read the refund as it is now."""
    payment_id, booking_id = Refund.objects.values_list(
        "payment_id", "payment__booking_id").get(pk=refund_id)
    Booking.objects.select_for_update(of=("self",)).filter(pk=booking_id).first()
    payment = _lock_payment(payment_id)
    return payment, Refund.objects.get(pk=refund_id)


def _settle_payment_status(payment: Payment) -> None:
    """Derive the payment's refund status from its succeeded refunds (a ledger, not a flag)."""
    back = refunded_total(payment)
    status = (Payment.Status.SUCCEEDED if back == 0
              else Payment.Status.REFUNDED if back >= payment.amount
              else Payment.Status.PARTIALLY_REFUNDED)
    if payment.status != status:
        payment.move_to(status)
        payment.save(update_fields=["status", "updated_at"])


# What Stripe is told about a refund, unless the caller knows better (a duplicate charge,
# fraud): money a customer or staff asked to give back is requested by the customer.
STRIPE_REASON_BY_INITIATOR = {
    Refund.Initiator.CUSTOMER: Refund.StripeReason.REQUESTED_BY_CUSTOMER,
    Refund.Initiator.STAFF: Refund.StripeReason.REQUESTED_BY_CUSTOMER,
    Refund.Initiator.SESSION_CANCELLED: Refund.StripeReason.REQUESTED_BY_CUSTOMER,
}


def refund_create(*, payment: Payment, amount: int, initiator: str, reason: str = "",
                  actor=None, lock_held: bool = False, stripe_reason: str | None = None) -> Refund:
    """Record a pending refund; card refunds go to Stripe after commit (in a task).

    Raises DomainError with a message for staff or the customer when the amount is not
    positive or more than is still refundable. `lock_held`: the caller already holds the
    payment row lock in this transaction.
    """
    with transaction.atomic():
        if not lock_held:
            Booking.objects.select_for_update(of=("self",)).filter(pk=payment.booking_id).first()
            payment = _lock_payment(payment.pk)
        if not isinstance(amount, int) or amount <= 0:
            raise DomainError("A refund must be a positive amount.")
        available = refundable_amount(payment)
        too_much = (f"At most {format_money(available, payment.currency)} can still be refunded "
                    f"on this payment; {format_money(amount, payment.currency)} was asked for.")
        if amount > payment.amount:  # bad input: no state of the payment allows it
            raise DomainError(too_much, code="too_much")
        # The payment's state says no (unpaid, or other refunds got there first): conflicts.
        if not payment.has_succeeded:
            raise ConflictError("Only a payment that succeeded can be refunded.",
                                code="not_refundable")
        if amount > available:
            raise ConflictError(too_much, code="too_much")
        refund = Refund.objects.create(
            payment=payment, amount=amount, currency=payment.currency, initiator=initiator,
            reason=reason[:500], created_by=actor if getattr(actor, "pk", None) else None,
            stripe_reason=(stripe_reason if stripe_reason is not None
                           else STRIPE_REASON_BY_INITIATOR.get(initiator, "")),
        )
        PaymentEvent.objects.create(payment=payment, kind="refund.requested",
                                    data={"refund": refund.pk, "amount": amount,
                                          "initiator": initiator})
        log_action("refund.requested", actor=actor, target=refund, user=payment.user_id,
                   data={"amount": amount, "initiator": initiator, "reason": reason})
        if payment.method == Payment.Method.CARD:
            from .tasks import submit_refund_task  # tasks.py imports this module: load on use

            submit_refund_task.delay_on_commit(refund.pk)
        else:
            # Invoice / bank transfer: staff send the money back themselves.
            refund_mark_succeeded(refund_id=refund.pk, actor=actor)
    return refund


def refund_submit(*, refund_id: int, now: datetime | None = None) -> Refund:
    """Send a pending refund to Stripe, once.

    The refund row is claimed with a conditional UPDATE before the call, so the task
    running twice (or the admin retrying meanwhile) cannot create a second Stripe refund
    even where Stripe's idempotency key is not honoured. No lock is held during the call.
    """
    now = now or timezone.now()
    claimed = Refund.objects.filter(
        pk=refund_id, status=Refund.Status.PENDING, stripe_refund_id__isnull=True,
        submitted_at__isnull=True,
    ).update(submitted_at=now)
    refund = Refund.objects.select_related("payment__booking").get(pk=refund_id)
    if not claimed:
        return refund
    try:
        answer = gateway.create_refund(
            payment_intent_id=refund.payment.stripe_payment_intent_id,
            amount=refund.amount,
            idempotency_key=refund.idempotency_key,
            reason=refund.stripe_reason,
            metadata={"refund_id": str(refund.pk),
                      "booking_reference": refund.payment.booking.reference},
        )
    except gateway.PaymentProviderError:
        # Not sent, or we cannot know: release the claim; the retry sends the same key.
        Refund.objects.filter(pk=refund_id, stripe_refund_id__isnull=True).update(
            submitted_at=None)
        raise
    except (gateway.PaymentRequestRejected, gateway.CardDeclined) as error:
        return refund_mark_failed(refund_id=refund_id, reason=f"Stripe refused: {error}")
    return refund_apply_stripe(stripe_refund=answer) or refund


def _find_or_create_from_stripe(stripe_refund: dict) -> Refund | None:
    found = Refund.objects.filter(stripe_refund_id=stripe_refund["id"]).first()
    if found:
        return found
    ours = str((stripe_refund.get("metadata") or {}).get("refund_id", ""))
    if ours.isdigit():
        claimed = Refund.objects.filter(pk=int(ours), stripe_refund_id__isnull=True).update(
            stripe_refund_id=stripe_refund["id"])
        if claimed:
            return Refund.objects.get(pk=int(ours))
    intent_id = stripe_refund.get("payment_intent")
    payment = Payment.objects.filter(stripe_payment_intent_id=intent_id).first() if intent_id \
        else None
    if payment is None:
        return None
    # Made in the Stripe dashboard: it already happened, so it is recorded, not validated.
    try:
        with transaction.atomic():
            _lock_payment(payment.pk)
            refund = Refund.objects.create(
                payment=payment, amount=int(stripe_refund["amount"]),
                currency=(stripe_refund.get("currency") or payment.currency).upper(),
                initiator=Refund.Initiator.STRIPE, reason="Made in the Stripe dashboard",
                stripe_refund_id=stripe_refund["id"], submitted_at=timezone.now(),
            )
            log_action("refund.recorded_from_stripe", target=refund, user=payment.user_id,
                       data={"amount": refund.amount})
            _yield_to_stripe_refund(payment=payment, made_in_stripe=refund)
            return refund
    except IntegrityError:
        return Refund.objects.get(stripe_refund_id=stripe_refund["id"])


def _yield_to_stripe_refund(*, payment: Payment, made_in_stripe: Refund) -> None:
    """A refund made in the Stripe dashboard has already happened; one of ours that has not
    succeeded yet and no longer fits beside it cannot (Stripe refuses a refund beyond the
    charge). Fail ours, newest first, until the refunds fit the payment again: the ledger
    never promises more back than was paid. The caller holds the payment's row lock."""
    over = refunded_total(payment, statuses=Refund.NOT_FAILED) - payment.amount
    pending = (Refund.objects.filter(payment=payment, status=Refund.Status.PENDING)
               .exclude(pk=made_in_stripe.pk).order_by("-created_at", "-pk"))
    for ours in pending:
        if over <= 0:
            return
        already = format_money(made_in_stripe.amount, payment.currency)
        refund_mark_failed(
            refund_id=ours.pk,
            reason=f"Stripe had already refunded {already} from its dashboard, so this refund "
                   "no longer fitted the payment.")
        over -= ours.amount


def refund_apply_stripe(*, stripe_refund: dict, stripe_event=None) -> Refund | None:
    """Bring our record in line with a Stripe refund object: our own call's answer, a
    webhook (in any order, any number of times) or reconciliation. None: not ours."""
    refund = _find_or_create_from_stripe(stripe_refund)
    if refund is None:
        return None
    if not Payment.objects.get(pk=refund.payment_id).has_succeeded:
        # Stripe refunds only a charge that succeeded, and does not promise to tell us in
        # order: the refund is the proof, so the payment counts as paid first.
        payment_count_succeeded(payment_id=refund.payment_id, stripe_event=stripe_event,
                                evidence=f"refund {stripe_refund['id']}")
        payment_refund_unneeded(payment_id=refund.payment_id)
    status = stripe_refund.get("status")
    if status == "succeeded":
        return refund_mark_succeeded(refund_id=refund.pk, stripe_event=stripe_event)
    if status in ("failed", "canceled"):
        return refund_mark_failed(
            refund_id=refund.pk, stripe_event=stripe_event,
            reason=stripe_refund.get("failure_reason") or f"Stripe says {status}",
        )
    return refund


def refund_mark_succeeded(*, refund_id: int, actor=None, now: datetime | None = None,
                          stripe_event=None) -> Refund:
    """Money is back with the customer: count it once, then move the payment and booking."""
    now = now or timezone.now()
    with transaction.atomic():
        payment, refund = _lock_refund(refund_id)
        if refund.status != Refund.Status.PENDING:
            if refund.status == Refund.Status.FAILED:
                # A late "succeeded" never revives a refund Stripe has since failed.
                PaymentEvent.objects.create(payment=payment, kind="refund.succeeded_ignored",
                                            stripe_event=stripe_event,
                                            data={"refund": refund.pk})
            return refund
        refund.move_to(Refund.Status.SUCCEEDED)
        refund.failure_reason = ""
        refund.save(update_fields=["status", "failure_reason", "updated_at"])
        User.objects.filter(pk=payment.user_id).update(total_spent=F("total_spent") - refund.amount)
        _settle_payment_status(payment)
        PaymentEvent.objects.create(payment=payment, kind="refund.succeeded",
                                    stripe_event=stripe_event,
                                    data={"refund": refund.pk, "amount": refund.amount})
        booking = Booking.objects.select_for_update(of=("self",)).select_related(
            "purchaser", "session__course").get(pk=payment.booking_id)
        # Refunded means nothing paid for the booking remains, not that this payment is
        # back: after a double charge, refunding the duplicate leaves the booking paid.
        if booking_money_held(booking_id=booking.pk) == 0 and \
                booking.can_become(Booking.Status.REFUNDED):
            booking_apply_transition(booking, Booking.Status.REFUNDED, actor=actor, now=now,
                                     data={"refund": refund.pk})
        credit_to_match_money_kept(
            booking_id=booking.pk, money_kept=booking_money_held(booking_id=booking.pk),
            # Not the refund's free-text reason: a document is kept for years and never
            # changes, and erasure must be able to remove what staff wrote about a person.
            reason=f"Refund ({refund.get_initiator_display().lower()})",
            source_key=f"refund:{refund.pk}", now=now, actor=actor)
        log_action("refund.succeeded", actor=actor, target=refund, user=payment.user_id,
                   data={"amount": refund.amount})
        refund_notify_outcome(refund=refund, booking=booking, payment=payment)
    return refund


def refund_mark_failed(*, refund_id: int, reason: str, stripe_event=None) -> Refund:
    """Stripe could not return the money. A refund that had succeeded and now fails (the
    card issuer rejected it) gives the amount back to the customer's totals."""
    with transaction.atomic():
        payment, refund = _lock_refund(refund_id)
        if refund.status == Refund.Status.FAILED:
            return refund
        was_succeeded = refund.status == Refund.Status.SUCCEEDED
        refund.move_to(Refund.Status.FAILED)
        refund.failure_reason = reason[:500]
        refund.save(update_fields=["status", "failure_reason", "updated_at"])
        if was_succeeded:
            User.objects.filter(pk=payment.user_id).update(
                total_spent=F("total_spent") + refund.amount)
            _settle_payment_status(payment)
        PaymentEvent.objects.create(payment=payment, kind="refund.failed",
                                    stripe_event=stripe_event,
                                    data={"refund": refund.pk, "reason": reason})
        log_action("refund.failed", target=refund, user=payment.user_id,
                   data={"reason": reason, "was_succeeded": was_succeeded})
        refund_notify_outcome(refund=refund, payment=payment, booking=Booking.objects
                              .select_related("purchaser", "session__course")
                              .get(pk=payment.booking_id))
    logger.warning("Refund %s failed: %s", refund_id, reason)
    return refund


# A refund not answered by Stripe this long after it was created is stuck: the submit
# task gave up (about an hour of retries) or was never queued (broker down).
STUCK_AFTER = timedelta(minutes=15)
# A claim (submitted_at) older than this belongs to a worker that died mid-call: no Stripe
# call lasts this long (the client's timeouts are far shorter).
CLAIM_TIMEOUT = timedelta(minutes=10)
# Pending this long, whatever the reason: staff are told (once per refund).
ALERT_AFTER = timedelta(hours=24)


def stuck_pending_refunds(*, now: datetime):
    """Pending refunds that no task will finish on its own: never answered by Stripe and
    not claimed by a live worker; and any refund pending for more than a day."""
    never_sent = Q(stripe_refund_id__isnull=True, created_at__lt=now - STUCK_AFTER) & (
        Q(submitted_at__isnull=True) | Q(submitted_at__lt=now - CLAIM_TIMEOUT))
    return Refund.objects.filter(
        Q(status=Refund.Status.PENDING)
        & (never_sent | Q(created_at__lt=now - ALERT_AFTER))
    ).select_related("payment__booking").order_by("pk")


def _is_unsent_and_stuck(refund: Refund, now: datetime) -> bool:
    return (refund.status == Refund.Status.PENDING and refund.stripe_refund_id is None
            and refund.created_at < now - STUCK_AFTER
            and (refund.submitted_at is None or refund.submitted_at < now - CLAIM_TIMEOUT))


def refund_resubmit(*, refund_id: int, now: datetime | None = None) -> Refund:
    """Send again a card refund that never got an answer from Stripe. A claim left by a
    worker that died may have reached Stripe: Stripe's refunds for the payment are checked
    for ours (by metadata) before the claim is released, so it is never sent twice."""
    now = now or timezone.now()
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if not _is_unsent_and_stuck(refund, now):
        return refund
    if refund.payment.method != Payment.Method.CARD:
        return refund_mark_succeeded(refund_id=refund.pk, now=now)
    if refund.submitted_at is not None:
        for stripe_refund in gateway.list_refunds(
                payment_intent_id=refund.payment.stripe_payment_intent_id):
            if str((stripe_refund.get("metadata") or {}).get("refund_id")) == str(refund.pk):
                return refund_apply_stripe(stripe_refund=stripe_refund) or refund
        Refund.objects.filter(pk=refund.pk, stripe_refund_id__isnull=True,
                              submitted_at=refund.submitted_at).update(submitted_at=None)
    from .tasks import submit_refund_task  # tasks.py imports this module: load on use

    log_action("refund.resubmitted", target=refund, user=refund.payment.user_id,
               data={"claimed_at": refund.submitted_at.isoformat()
                     if refund.submitted_at else None})
    submit_refund_task.delay_on_commit(refund.pk)
    return refund


def refunds_sweep_stuck(*, now: datetime | None = None) -> dict:
    """Beat, every 15 minutes: send again the refunds stuck before Stripe, ask Stripe about
    those it answered 'pending' long ago, and tell staff (once each) about any refund
    pending for more than a day."""
    now = now or timezone.now()
    summary = {"resubmitted": [], "refreshed": [], "alerted": [],
               "unneeded_settled": payments_refund_unneeded_sweep()}
    for refund in stuck_pending_refunds(now=now):
        try:
            if _is_unsent_and_stuck(refund, now):
                refund_resubmit(refund_id=refund.pk, now=now)
                summary["resubmitted"].append(refund.pk)
            elif refund.payment.stripe_payment_intent_id:
                refunds_sync_for_intent(
                    payment_intent_id=refund.payment.stripe_payment_intent_id)
                summary["refreshed"].append(refund.pk)
        except gateway.PaymentProviderError as error:
            logger.warning("Stuck refund %s: Stripe unavailable: %s", refund.pk, error)
        refund.refresh_from_db()
        if refund.status == Refund.Status.PENDING and refund.created_at < now - ALERT_AFTER:
            sent = communication_queue(
                kind=Communication.Kind.STAFF_ALERT,
                recipient=settings.OPERATIONS_EMAIL,
                template="emails/refund_stuck.txt",
                context={"refund": refund, "booking": refund.payment.booking,
                         "payment": refund.payment},
                dedupe_key=f"refund-stuck:{refund.pk}",
            )
            if sent is not None:
                summary["alerted"].append(refund.pk)
    return summary


def refund_retry(*, refund: Refund, actor=None, now: datetime | None = None) -> Refund:
    """Staff: try again. A failed refund becomes a new refund for the same amount; a
    pending one stuck before Stripe is sent again (the same refund, never a second)."""
    now = now or timezone.now()
    if refund.status == Refund.Status.PENDING:
        if not _is_unsent_and_stuck(refund, now):
            raise DomainError(
                f"Refund {refund.pk} is still being sent to Stripe or awaits Stripe's answer; "
                "retry it if it is still pending in 15 minutes.")
        log_action("refund.retried", actor=actor, target=refund, user=refund.payment.user_id)
        return refund_resubmit(refund_id=refund.pk, now=now)
    if refund.status != Refund.Status.FAILED:
        raise DomainError(f"Refund {refund.pk} has succeeded; there is nothing to retry.")
    return refund_create(payment=refund.payment, amount=refund.amount,
                         initiator=refund.initiator, actor=actor,
                         reason=f"Retry of refund {refund.pk}: {refund.reason}")


def refunds_sync_for_intent(*, payment_intent_id: str, stripe_event=None) -> int:
    """Fetch every refund Stripe has for an intent and apply each (used for events such as
    charge.refunded that do not carry the refund objects themselves)."""
    applied = 0
    for stripe_refund in gateway.list_refunds(payment_intent_id=payment_intent_id):
        if refund_apply_stripe(stripe_refund=stripe_refund, stripe_event=stripe_event):
            applied += 1
    return applied


def _refund_unneeded_payment(payment: Payment, booking: Booking, *, reason: str) -> Refund | None:
    """The caller holds the booking and payment locks: refund what is left of a payment
    the booking could not take, and tell the purchaser."""
    amount = refundable_amount(payment)  # a refund made at Stripe may already be recorded
    if amount <= 0:
        return None
    duplicate = booking.status in COUNTED_STATUSES
    refund = refund_create(payment=payment, amount=amount, initiator=Refund.Initiator.AUTOMATIC,
                           reason=reason, actor=None, lock_held=True,
                           stripe_reason=Refund.StripeReason.DUPLICATE if duplicate else "")
    if duplicate:
        # The booking stands, paid by another payment: only this extra one goes back.
        _send_duplicate_refunded(booking, payment, amount)
    else:
        booking_send_late_refund(booking, payment)
    log_action("payment.auto_refunded", target=payment, user=payment.user_id,
               data={"reason": reason})
    return refund


def _send_duplicate_refunded(booking: Booking, payment: Payment, amount: int) -> None:
    booking = Booking.objects.select_related("purchaser", "session__course").get(pk=booking.pk)
    communication_queue(
        kind=Communication.Kind.LATE_PAYMENT_REFUNDED,
        recipient=booking.purchaser.email,
        template="emails/duplicate_payment_refunded.txt",
        context={"booking": booking, "session": booking.session, "payment": payment,
                 "amount": amount},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=f"{booking.reference}:{payment.pk}",
    )


def payment_refund_unneeded(*, payment_id: int) -> Refund | None:
    """Give back money a booking could not take (apps.payments recorded it as unneeded:
    paid after the seats went, for a cancelled booking, or twice). Once per payment, under
    the booking and payment locks; safe to call for any payment, any number of times
    (None: nothing owed, or already settled). Called right after a payment is applied by
    webhooks, reconciliation, refunds and fraud warnings, and by the refunds sweep."""
    events = PaymentEvent.objects.filter(payment_id=payment_id)
    if not events.filter(kind=UNNEEDED_EVENT).exists():
        return None  # the common case, read without a lock
    with transaction.atomic():
        booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        payment = _lock_payment(payment_id)
        if events.filter(kind=UNNEEDED_SETTLED_EVENT).exists():
            return None
        owed = events.filter(kind=UNNEEDED_EVENT).order_by("pk").first()
        refund = _refund_unneeded_payment(payment, booking, reason=owed.data.get("reason", ""))
        PaymentEvent.objects.create(payment=payment, kind=UNNEEDED_SETTLED_EVENT,
                                    data={"refund": refund.pk if refund else None})
    return refund


def payments_refund_unneeded_sweep() -> list[int]:
    """Settle every payment recorded as unneeded and not yet settled (a caller that
    stopped between applying the payment and refunding it). Returns the payment ids."""
    owed = set(PaymentEvent.objects.filter(kind=UNNEEDED_EVENT).values_list(
        "payment_id", flat=True))
    owed -= set(PaymentEvent.objects.filter(kind=UNNEEDED_SETTLED_EVENT).values_list(
        "payment_id", flat=True))
    for payment_id in sorted(owed):
        payment_refund_unneeded(payment_id=payment_id)
    return sorted(owed)
