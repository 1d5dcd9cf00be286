"""Refund writes. The payment row lock serialises every change to a payment's refunds."""

from datetime import datetime

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.services import booking_apply_transition
from apps.core.audit import log_action
from apps.core.errors import DomainError
from apps.payments import gateway
from apps.payments.models import Payment, PaymentEvent
from apps.users.models import User

from .models import Refund


def refunded_total(payment: Payment, *, statuses=(Refund.Status.SUCCEEDED,)) -> int:
    return payment.refunds.filter(status__in=statuses).aggregate(s=Sum("amount"))["s"] or 0


def refundable_amount(payment: Payment) -> int:
    """What can still go back: the payment minus every refund that has not failed."""
    return payment.amount - refunded_total(
        payment, statuses=(Refund.Status.PENDING, Refund.Status.SUCCEEDED)
    )


def refund_create(*, payment: Payment, amount: int, initiator: str, reason: str = "",
                  actor=None, lock_held: bool = False) -> Refund:
    """Record a pending refund and send it to Stripe after commit.

    The payment row is locked (or already locked by the caller: `lock_held`) so that two
    refunds at once can never together exceed what was paid.
    """
    with transaction.atomic():
        if not lock_held:
            payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment.pk)
        if not payment.has_succeeded:
            raise DomainError("Only a payment that succeeded can be refunded.")
        if amount <= 0:
            raise DomainError("A refund must be more than zero.")
        available = refundable_amount(payment)
        if amount > available:
            from apps.core.money import format_money

            raise DomainError(
                f"At most {format_money(available, payment.currency)} can still be refunded "
                "on this payment."
            )
        refund = Refund.objects.create(
            payment=payment, amount=amount, currency=payment.currency, initiator=initiator,
            reason=reason[:500], created_by=actor if getattr(actor, "pk", None) else None,
        )
        PaymentEvent.objects.create(payment=payment, kind="refund.requested",
                                    data={"refund": refund.pk, "amount": amount})
        log_action("refund.requested", actor=actor, target=refund, user=payment.user_id,
                   data={"amount": amount, "initiator": initiator})
        if payment.method == Payment.Method.CARD:
            from .tasks import submit_refund_task

            submit_refund_task.delay_on_commit(refund.pk)
    return refund


def refund_submit(*, refund_id: int) -> Refund:
    """Send a pending refund to Stripe with an idempotency key from its own id."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING or refund.stripe_refund_id:
        return refund
    answer = gateway.create_refund(
        payment_intent_id=refund.payment.stripe_payment_intent_id,
        amount=refund.amount,
        idempotency_key=refund.idempotency_key,
        metadata={"refund_id": str(refund.pk),
                  "booking_reference": refund.payment.booking.reference},
    )
    Refund.objects.filter(pk=refund.pk, stripe_refund_id__isnull=True).update(
        stripe_refund_id=answer["id"]
    )
    if answer.get("status") == "succeeded":
        return refund_mark_succeeded(refund_id=refund.pk)
    if answer.get("status") in ("failed", "canceled"):
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.FAILED, failure_reason=answer.get("failure_reason") or "failed"
        )
    return Refund.objects.get(pk=refund.pk)


def refund_mark_succeeded(*, refund_id: int, actor=None, now: datetime | None = None,
                          stripe_event=None) -> Refund:
    """Money is back with the customer: count it once, then move the payment and booking."""
    now = now or timezone.now()
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment_id)
        refund = Refund.objects.get(pk=refund_id)
        if refund.status == Refund.Status.SUCCEEDED:
            return refund
        refund.status = Refund.Status.SUCCEEDED
        refund.failure_reason = ""
        refund.save(update_fields=["status", "failure_reason", "updated_at"])
        User.objects.filter(pk=payment.user_id).update(total_spent=F("total_spent") - refund.amount)
        fully = refunded_total(payment) >= payment.amount
        payment.status = Payment.Status.REFUNDED if fully else Payment.Status.PARTIALLY_REFUNDED
        payment.save(update_fields=["status", "updated_at"])
        PaymentEvent.objects.create(payment=payment, kind="refund.succeeded",
                                    stripe_event=stripe_event,
                                    data={"refund": refund.pk, "amount": refund.amount})
        if fully:
            booking = Booking.objects.select_for_update(of=("self",)).get(pk=payment.booking_id)
            if booking.can_become(Booking.Status.REFUNDED):
                booking_apply_transition(booking, Booking.Status.REFUNDED, actor=actor, now=now,
                                         data={"refund": refund.pk})
        log_action("refund.succeeded", actor=actor, target=refund, user=payment.user_id,
                   data={"amount": refund.amount})
    return refund
