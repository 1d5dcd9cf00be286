"""Radar early fraud warnings: the card issuer says a payment was probably fraudulent.
Staff are told at once; with settings.STRIPE_REFUND_ON_EARLY_FRAUD_WARNING the payment is
refunded automatically before it can become a dispute (and its fee)."""

from django.conf import settings
from django.db import transaction

from apps.bookings.models import Booking
from apps.core.emails import communication_queue
from apps.core.models import Communication
from apps.payments.disputes import dispute_payment
from apps.payments.models import Payment, PaymentEvent
from apps.payments.services import payment_count_succeeded
from apps.users.audit import log_action

from .models import Refund
from .services import payment_refund_unneeded, refund_create, refundable_amount


def early_fraud_warning_apply(*, warning: dict, stripe_event=None) -> str | None:
    """None: the warning is about no payment of ours."""
    payment = dispute_payment(warning)  # the same payment_intent / charge lookup
    if payment is None:
        return None
    if not payment.has_succeeded:
        # A warning is about a charge that succeeded, whatever order Stripe delivers in.
        payment_count_succeeded(payment_id=payment.pk, stripe_event=stripe_event,
                                evidence=f"early fraud warning {warning['id']}")
        payment_refund_unneeded(payment_id=payment.pk)
    refunded = 0
    with transaction.atomic():
        Booking.objects.select_for_update(of=("self",)).filter(pk=payment.booking_id).first()
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment.pk)
        PaymentEvent.objects.create(payment=payment, kind="fraud_warning",
                                    stripe_event=stripe_event,
                                    data={"warning": warning["id"],
                                          "fraud_type": warning.get("fraud_type"),
                                          "actionable": warning.get("actionable")})
        if settings.STRIPE_REFUND_ON_EARLY_FRAUD_WARNING and warning.get("actionable", True):
            amount = refundable_amount(payment)
            if amount > 0:
                refund_create(payment=payment, amount=amount,
                              initiator=Refund.Initiator.AUTOMATIC,
                              reason="Early fraud warning from the card issuer",
                              lock_held=True, stripe_reason=Refund.StripeReason.FRAUDULENT)
                refunded = amount
        log_action("payment.fraud_warning", target=payment, user=payment.user_id,
                   data={"warning": warning["id"], "refunded": refunded})
        booking = Booking.objects.select_related("session__course", "purchaser").get(
            pk=payment.booking_id)
        communication_queue(
            kind=Communication.Kind.STAFF_ALERT,
            recipient=settings.OPERATIONS_EMAIL,
            template="emails/early_fraud_warning.txt",
            context={"booking": booking, "payment": payment, "warning_id": warning["id"],
                     "fraud_type": warning.get("fraud_type", ""),
                     "actionable": warning.get("actionable", True), "refunded": refunded},
            booking=booking,
            dedupe_key=f"fraud-warning:{warning['id']}",
        )
    return f"staff alerted; refunded {refunded}"
