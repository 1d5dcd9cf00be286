"""Paying what a booking still owes by card (booking_balance_due): a paid booking moved to a
dearer date, or a booking on a company's account paying its invoice through the emailed
link (apps/bookings/access.py booking_pay_link; paid in full, it becomes paid exactly as a
full bank transfer makes it, and its invoice stands).

The same card flow as the first payment (payment_pay_card: the page's ConfirmationToken,
the PaymentIntent created and confirmed on the server, 3-D Secure at most once), with one
rule more: a balance has at most one attempt that may still charge (a database constraint,
Payment.BALANCE_IN_FLIGHT), and that attempt has at most one PaymentIntent. A second
request while it is in flight reuses it — its intent's 3-D Secure step, or a refusal to
start another while the first is still being sent to Stripe — so two tabs, a double click
or two people holding the link never charge the same balance twice. The amount is the
balance recomputed under the booking lock. When the payment succeeds (our own answer or
the webhook, in any order) payments.services._balance_succeeded records it without
re-confirming the booking.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.notifications import booking_send_balance_link
from apps.core.errors import ConflictError, DomainError
from apps.users.audit import log_action

from . import gateway
from .models import Payment, PaymentEvent
from .selectors import booking_balance_due, booking_owes_balance
from .services import (
    PROVIDER_DOWN_MESSAGE,
    CardPaymentResult,
    _intent_metadata,
    _next_attempt,
    _remember_card,
    _with_stripe_customer,
    payment_apply_intent,
    payment_mark_failed,
)

logger = logging.getLogger(__name__)

IN_PROGRESS_MESSAGE = ("A payment of this balance is already being processed. Please wait a "
                       "moment and reload the page: nothing more will be charged.")


def _refusal(booking: Booking, due: int) -> str:
    if not booking_owes_balance(booking):
        return (f"Booking {booking.reference} is {booking.get_status_display().lower()}: "
                "there is nothing to pay.")
    if due <= 0:
        return f"Nothing is owed on booking {booking.reference}: it is paid in full."
    return ""


def balance_in_flight(*, booking_id: int) -> Payment | None:
    """The balance attempt that may still charge, if any (a read)."""
    return Payment.objects.filter(booking_id=booking_id, purpose=Payment.Purpose.BALANCE,
                                  status__in=Payment.BALANCE_IN_FLIGHT).first()


def _close(payment: Payment, *, message: str, kind: str) -> None:
    payment.move_to(Payment.Status.FAILED)
    payment.failure_message = message
    payment.save(update_fields=["status", "failure_message", "updated_at"])
    PaymentEvent.objects.create(payment=payment, kind=kind, data={})


def _balance_attempt(*, booking_id: int, confirmation_token: str, now: datetime
                     ) -> tuple[Payment, bool]:
    """Under the booking lock: the balance attempt this request pays, and whether it must
    create the PaymentIntent (False: the attempt already has one, reuse it).

    - none in flight: a new attempt for the balance due now, claimed by this token;
    - in flight with an intent: reused (the page continues its 3-D Secure step);
    - in flight, no intent, same token (a retry after no answer): sent again with the
      same idempotency key, so Stripe cannot charge twice;
    - in flight, no intent, another token: refused while the first may still be on its
      way to Stripe; once it is older than a Stripe call can take, it is closed as
      unanswered (if Stripe did charge it, its webhook arrives and the payment that is not
      needed is given back) and this request starts a new attempt."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        due = booking_balance_due(booking=booking)
        if refusal := _refusal(booking, due):
            raise ConflictError(refusal, code="nothing_owed")
        open_payment = (Payment.objects.select_for_update(of=("self",))
                        .filter(booking=booking, purpose=Payment.Purpose.BALANCE,
                                status__in=Payment.BALANCE_IN_FLIGHT).first())
        if open_payment is not None:
            if open_payment.stripe_payment_intent_id:
                return open_payment, False
            if open_payment.stripe_confirmation_token in ("", confirmation_token) \
                    and open_payment.amount == due:
                if not open_payment.stripe_confirmation_token:
                    open_payment.stripe_confirmation_token = confirmation_token
                    open_payment.save(update_fields=["stripe_confirmation_token",
                                                     "updated_at"])
                return open_payment, True
            unanswered_after = timedelta(seconds=3 * settings.STRIPE_TIMEOUT_SECONDS)
            if open_payment.amount == due and open_payment.updated_at > now - unanswered_after:
                raise ConflictError(IN_PROGRESS_MESSAGE, code="payment_in_progress")
            _close(open_payment, kind="payment.superseded",
                   message="Superseded by a new attempt after no answer.")
        payment = Payment.objects.create(
            booking=booking, user_id=booking.purchaser_id, purpose=Payment.Purpose.BALANCE,
            amount=due, currency=booking.currency, attempt=_next_attempt(booking.pk),
            stripe_confirmation_token=confirmation_token)
        log_action("payment.balance_started", actor=None, target=payment,
                   user=booking.purchaser_id, data={"amount": due})
        return payment, True


def _reused_intent(payment: Payment) -> CardPaymentResult:
    """The in-flight attempt's intent as Stripe has it now (outside any lock)."""
    try:
        intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    except gateway.PaymentProviderError as error:
        raise DomainError(PROVIDER_DOWN_MESSAGE, code="provider_unavailable",
                          status=503) from error
    if intent.get("status") == "requires_payment_method":
        # The bank's step was abandoned: this intent charges nothing more; start afresh.
        return CardPaymentResult(payment_mark_failed(
            payment_id=payment.pk, payment_intent_id=intent["id"],
            message="The last payment was not completed. Please enter your card again."))
    payment = payment_apply_intent(intent=intent) or payment
    if intent.get("status") == "requires_action":
        return CardPaymentResult(payment, intent.get("client_secret", ""))
    if payment.status in Payment.BALANCE_IN_FLIGHT:
        raise ConflictError(IN_PROGRESS_MESSAGE, code="payment_in_progress")
    return CardPaymentResult(payment)


def payment_pay_balance(*, booking: Booking, confirmation_token: str,
                        now: datetime | None = None) -> CardPaymentResult:
    """Charge what the booking still owes with the card the customer entered (a
    ConfirmationToken). Refuses (ConflictError) when nothing is owed or the booking is
    neither paid nor on account. Returns the payment: succeeded, requires_action (with the
    client secret for the page's 3-D Secure step) or failed with the bank's message. No
    lock is held while Stripe is called."""
    now = now or timezone.now()
    if not confirmation_token or not confirmation_token.startswith("ctoken_") \
            or len(confirmation_token) > 255:
        raise DomainError("The card details did not come through; please enter them again.")
    payment, create = _balance_attempt(booking_id=booking.pk,
                                       confirmation_token=confirmation_token, now=now)
    if not create:
        return _reused_intent(payment)
    metadata = {**_intent_metadata(booking, payment), "purpose": Payment.Purpose.BALANCE}
    try:
        intent = _with_stripe_customer(
            booking.purchaser_id,
            lambda customer_id: gateway.create_payment_intent(
                amount=payment.amount, currency=payment.currency, customer_id=customer_id,
                confirmation_token=confirmation_token, metadata=metadata,
                description=f"Balance owed on {booking.reference}",
                statement_descriptor_suffix=booking.reference,
                idempotency_key=payment.idempotency_key))
    except gateway.CardDeclined as declined:
        return CardPaymentResult(payment_mark_failed(
            payment_id=payment.pk, message=declined.message,
            payment_intent_id=declined.payment_intent_id))
    except gateway.PaymentRequestRejected as rejected:
        return CardPaymentResult(payment_mark_failed(
            payment_id=payment.pk,
            message=f"The card could not be used ({rejected}). Please enter it again."))
    except gateway.PaymentProviderError as error:
        logger.warning("Stripe unavailable paying the balance of %s: %s", booking.reference,
                       error)
        raise DomainError(PROVIDER_DOWN_MESSAGE, code="provider_unavailable",
                          status=503) from error
    if isinstance(intent.get("payment_method"), str):
        _remember_card(payment.pk, intent["payment_method"])
    payment = payment_apply_intent(intent=intent, now=now) or payment
    secret = intent.get("client_secret", "") if intent.get("status") == "requires_action" else ""
    return CardPaymentResult(payment, secret)


def balance_send_payment_link(*, booking: Booking, actor, now: datetime | None = None) -> int:
    """Staff email the purchaser a link to pay what the booking owes (through the outbox).
    Returns the amount asked for; refuses when nothing is owed. Each request sends once
    (a double click within the minute sends one email)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Booking.objects.select_for_update(of=("self",)).get(pk=booking.pk)
        due = booking_balance_due(booking=locked)
        if refusal := _refusal(locked, due):
            raise ConflictError(refusal, code="nothing_owed")
        booking_send_balance_link(locked, amount=due,
                                  dedupe_key=f"balance:{locked.reference}:{due}:"
                                             f"{now:%Y%m%d%H%M}")
        log_action("booking.balance_link_sent", actor=actor, target=locked,
                   user=locked.purchaser_id, data={"amount": due})
    return due
