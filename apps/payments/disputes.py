"""Chargebacks: Stripe's dispute events kept as ledger rows against the payment.

Each event is applied once (by its Stripe id), in any order and any number of times: a
closed dispute never reopens, and among open states the newest event by Stripe's clock
wins. What a dispute costs us is derived from its state, one rule in one place
(`_money_lost`); each event records the change it made (`money_effect`), so revenue and
the customer's total are net of disputes lost or with their funds withdrawn.
"""

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.emails import communication_queue
from apps.core.models import Communication
from apps.users.audit import log_action
from apps.users.models import User

from . import gateway
from .models import Dispute, DisputeEvent, Payment, PaymentEvent
from .services import payment_count_succeeded

logger = logging.getLogger(__name__)

FUNDS_WITHDRAWN = "charge.dispute.funds_withdrawn"
FUNDS_REINSTATED = "charge.dispute.funds_reinstated"


def _timestamp(value) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int) else None


def dispute_payment(dispute: dict) -> Payment | None:
    """Our payment for a Stripe dispute: by its PaymentIntent, or (older API versions
    give only the charge) by asking Stripe for the charge's PaymentIntent."""
    intent_id = dispute.get("payment_intent")
    if isinstance(intent_id, dict):
        intent_id = intent_id.get("id")
    if not intent_id:
        charge = dispute.get("charge")
        charge_id = charge.get("id") if isinstance(charge, dict) else charge
        if not charge_id:
            return None
        try:
            intent_id = gateway.retrieve_charge(charge_id).get("payment_intent")
        except gateway.PaymentRequestRejected:
            return None
    if not intent_id:
        return None
    return Payment.objects.filter(stripe_payment_intent_id=intent_id).first()


def _money_lost(dispute: Dispute, payment: Payment) -> int:
    """What the dispute costs us now: all of it when lost, or while the bank holds the
    funds it withdrew; nothing once won or closed as an inquiry. Never more than we still
    have of the payment (Stripe refunds and disputes cannot both take the same money)."""
    if dispute.status == Dispute.Status.LOST:
        lost = dispute.amount
    elif dispute.status in Dispute.CLOSED:
        lost = 0
    else:
        lost = dispute.amount if dispute.funds_withdrawn and not dispute.funds_reinstated else 0
    # Refund is a layer above payments: its status is read through the relation's model.
    succeeded = payment.refunds.model.Status.SUCCEEDED
    refunded = payment.refunds.filter(status=succeeded).aggregate(s=Sum("amount"))["s"] or 0
    other = (payment.disputes.exclude(pk=dispute.pk).aggregate(s=Sum("money_lost"))["s"] or 0)
    return max(0, min(lost, payment.amount - refunded - other))


def _take_state(dispute: Dispute, obj: dict, *, event_type: str,
                stripe_created: datetime | None) -> None:
    status = obj.get("status")
    if status in Dispute.Status.values:
        closed_now, closing = dispute.status in Dispute.CLOSED, status in Dispute.CLOSED
        newer = (dispute.status_changed_at is None or stripe_created is None
                 or stripe_created >= dispute.status_changed_at)
        if not dispute.status or (closing and not closed_now) or (
                closing == closed_now and newer):
            dispute.status = status
            dispute.status_changed_at = stripe_created or dispute.status_changed_at
            if isinstance(obj.get("amount"), int) and obj["amount"] > 0:
                dispute.amount = obj["amount"]
            dispute.reason = str(obj.get("reason") or dispute.reason)[:60]
            due = _timestamp((obj.get("evidence_details") or {}).get("due_by"))
            dispute.evidence_due_by = due or dispute.evidence_due_by
    if event_type == FUNDS_WITHDRAWN:
        dispute.funds_withdrawn = True
    if event_type == FUNDS_REINSTATED:
        dispute.funds_reinstated = True
    for transaction_ in obj.get("balance_transactions") or []:
        if isinstance(transaction_, dict) and isinstance(transaction_.get("amount"), int):
            if transaction_["amount"] < 0:
                dispute.funds_withdrawn = True
            elif transaction_["amount"] > 0:
                dispute.funds_reinstated = True


def dispute_apply_stripe(*, dispute: dict, event_type: str, source_id: str,
                         stripe_created: datetime | None = None, stripe_event=None,
                         now: datetime | None = None) -> Dispute | None:
    """Apply one Stripe dispute event (or reconciliation's view of a dispute) once.
    None: the dispute is about no payment of ours."""
    now = now or timezone.now()
    payment = dispute_payment(dispute)
    if payment is None:
        return None
    if not payment.has_succeeded or payment.succeeded_at is None:
        # Only a charge that succeeded can be disputed, and Stripe does not promise to
        # deliver its success first: the dispute is the proof, so the payment counts first.
        payment_count_succeeded(payment_id=payment.pk, stripe_event=stripe_event,
                                evidence=f"dispute {dispute['id']}")
    with transaction.atomic():
        # Lock order everywhere: booking, then payment, then the user's totals.
        Booking.objects.select_for_update(of=("self",)).filter(pk=payment.booking_id).first()
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment.pk)
        try:
            with transaction.atomic():
                record, opened = Dispute.objects.get_or_create(
                    stripe_dispute_id=dispute["id"],
                    defaults={"payment": payment, "amount": int(dispute.get("amount") or 0)
                              or payment.amount,
                              "currency": str(dispute.get("currency") or payment.currency)
                              .upper()[:3], "status": ""})
        except IntegrityError:
            record, opened = Dispute.objects.get(stripe_dispute_id=dispute["id"]), False
        record = Dispute.objects.select_for_update().get(pk=record.pk)
        if DisputeEvent.objects.filter(source_id=source_id).exists():
            return record
        was_open = record.is_open and not opened
        _take_state(record, dispute, event_type=event_type, stripe_created=stripe_created)
        lost = _money_lost(record, payment)
        effect = lost - record.money_lost
        record.money_lost = lost
        record.save()
        DisputeEvent.objects.create(dispute=record, stripe_event=stripe_event,
                                    source_id=source_id, type=event_type,
                                    status=record.status, money_effect=effect,
                                    stripe_created=stripe_created)
        if effect:
            User.objects.filter(pk=payment.user_id).update(
                total_spent=F("total_spent") - effect)
        PaymentEvent.objects.create(payment=payment, kind=f"dispute.{event_type.split('.')[-1]}",
                                    stripe_event=stripe_event,
                                    data={"dispute": record.stripe_dispute_id,
                                          "status": record.status, "money_effect": effect})
        log_action(f"dispute.{record.status}" if effect or opened else "dispute.updated",
                   target=payment, user=payment.user_id,
                   data={"dispute": record.stripe_dispute_id, "amount": record.amount,
                         "money_effect": effect, "event": event_type})
        booking = Booking.objects.select_related("session__course", "purchaser").get(
            pk=payment.booking_id)
        if opened:
            _tell_staff(record, booking, payment, "opened")
        if not record.is_open and (was_open or opened):
            _tell_staff(record, booking, payment, "closed")
    return record


def _tell_staff(dispute: Dispute, booking: Booking, payment: Payment, what: str) -> None:
    communication_queue(
        kind=Communication.Kind.STAFF_ALERT,
        recipient=settings.OPERATIONS_EMAIL,
        template=f"emails/dispute_{what}.txt",
        context={"dispute": dispute, "booking": booking, "payment": payment,
                 "now": timezone.now()},
        booking=booking,
        dedupe_key=f"dispute:{dispute.stripe_dispute_id}:{what}",
    )
