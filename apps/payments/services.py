"""Payment writes: taking card payments through Stripe, recording money taken another way,
and applying what Stripe tells us (our own answer or a webhook) exactly once."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.notifications import booking_send_balance_paid, booking_send_confirmations
from apps.bookings.services import booking_apply_transition
from apps.core.errors import ConflictError, DomainError
from apps.core.prefetch import set_prefetched
from apps.invoicing.services import invoice_for_paid_booking, invoice_reissue_for_booking
from apps.users.audit import log_action
from apps.users.models import User

from . import gateway
from .models import Payment, PaymentEvent
from .selectors import booking_balance_due, booking_owes_balance

logger = logging.getLogger(__name__)

# The PaymentEvent kinds recording money a booking could not take, and its settling.
UNNEEDED_EVENT = "payment.unneeded"
UNNEEDED_SETTLED_EVENT = "payment.unneeded_settled"

PROVIDER_DOWN_MESSAGE = (
    "The payment provider is not answering right now. Your seats are still held: "
    "please try again in a moment."
)


def _next_attempt(booking_id: int) -> int:
    return (Payment.objects.filter(booking_id=booking_id).aggregate(n=Max("attempt"))["n"] or 0) + 1


def _check_payable(booking: Booking, now: datetime) -> None:
    if booking.status != Booking.Status.PENDING:
        raise ConflictError(
            f"Booking {booking.reference} is {booking.get_status_display().lower()}: "
            "there is nothing to pay.",
            code="not_payable",
        )
    if booking.hold_expires_at and booking.hold_expires_at <= now:
        raise ConflictError(
            "Your seats were held for a limited time and the hold has run out. "
            "Please book again.",
            code="hold_expired",
        )
    if booking.on_account:
        # Its invoice is paid by card through the balance page, for what is outstanding
        # (bank transfers may have paid part): never the whole total from here.
        raise ConflictError(
            f"Booking {booking.reference} is on account: pay what is outstanding on its "
            "invoice from the link in your confirmation or reminder email.",
            code="on_account")


def _open_card_payment(*, booking_id: int, confirmation_token: str, now: datetime) -> Payment:
    """The payment attempt for this confirmation token: the open one Stripe never answered
    when it was sent with the same token (a retry after a timeout resends the same request
    with the same idempotency key, so Stripe cannot charge twice), otherwise a new attempt.
    An open attempt sent with another token is closed: Stripe would refuse its key with
    other parameters, and if it did charge, its webhook arrives and the double charge is
    refunded. Short transaction."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        _check_payable(booking, now)
        open_payment = (
            Payment.objects.filter(
                booking=booking,
                method=Payment.Method.CARD,
                status=Payment.Status.REQUIRES_PAYMENT,
                stripe_payment_intent_id__isnull=True,
            )
            .order_by("-attempt")
            .first()
        )
        if open_payment and open_payment.stripe_confirmation_token in ("", confirmation_token):
            if not open_payment.stripe_confirmation_token:
                open_payment.stripe_confirmation_token = confirmation_token
                open_payment.save(update_fields=["stripe_confirmation_token", "updated_at"])
            return open_payment
        if open_payment:
            open_payment.move_to(Payment.Status.FAILED)
            open_payment.failure_message = "Superseded by a new attempt after no answer."
            open_payment.save(update_fields=["status", "failure_message", "updated_at"])
            PaymentEvent.objects.create(payment=open_payment, kind="payment.superseded",
                                        data={})
        return Payment.objects.create(
            booking=booking,
            user_id=booking.purchaser_id,
            amount=booking.total_amount,
            currency=booking.currency,
            attempt=_next_attempt(booking.pk),
            stripe_confirmation_token=confirmation_token,
        )


def _stripe_customer_id(user_id: int) -> str:
    user = User.objects.get(pk=user_id)
    if user.stripe_customer_id:
        return user.stripe_customer_id
    customer_id = gateway.create_customer(email=user.email, name=user.full_name, user_id=user.pk)
    User.objects.filter(pk=user.pk, stripe_customer_id="").update(stripe_customer_id=customer_id)
    return User.objects.values_list("stripe_customer_id", flat=True).get(pk=user.pk)


def _with_stripe_customer(user_id: int, call):
    """Run ``call(customer_id)``; when Stripe does not know the stored customer (keys moved
    from test to live, or from the fake to Stripe), forget it, make a new one and call
    again once."""
    customer_id = _stripe_customer_id(user_id)
    try:
        return call(customer_id)
    except gateway.UnknownCustomer:
        logger.warning("Stripe does not know customer %s of user %s: making a new one",
                       customer_id, user_id)
        User.objects.filter(pk=user_id, stripe_customer_id=customer_id).update(
            stripe_customer_id="")
        return call(_stripe_customer_id(user_id))


@dataclass(frozen=True)
class CardPaymentResult:
    payment: Payment
    client_secret: str = ""  # set when the bank asks for 3-D Secure
    released: bool = False  # too many declines: the hold was ended, the seats let go


def _intent_metadata(booking: Booking, payment: Payment) -> dict:
    session = booking.session
    return {"booking_reference": booking.reference, "payment_id": str(payment.pk),
            "session_id": str(session.pk), "course": session.course.title[:200]}


def _intent_description(booking: Booking) -> str:
    """What staff read in the Stripe dashboard: course, local start, seats, reference."""
    session = booking.session
    start = timezone.localtime(session.starts_at)
    seats = f"{booking.seats} seat{'s' if booking.seats != 1 else ''}"
    return (f"{session.course.title} — {start:%a %d %b %Y %H:%M} — {seats} — "
            f"{booking.reference}")


def _release_after_declines(*, booking_id: int, now: datetime) -> bool:
    """Card testing protection: after PAYMENT_MAX_DECLINES declined cards on one booking the
    hold ends at once (seats released); paying again means booking again."""
    declines = Payment.objects.filter(booking_id=booking_id, method=Payment.Method.CARD,
                                      status=Payment.Status.FAILED).count()
    if declines < settings.PAYMENT_MAX_DECLINES:
        return False
    with transaction.atomic():
        booking = (Booking.objects.select_for_update(of=("self",))
                   .filter(pk=booking_id, status=Booking.Status.PENDING).first())
        if booking is None:
            return False
        booking_apply_transition(booking, Booking.Status.EXPIRED, actor=None, now=now,
                                 data={"reason": f"{declines} declined card payments"})
    logger.warning("Booking %s released after %s declined cards", booking_id, declines)
    return True


def payment_pay_card(*, booking: Booking, confirmation_token: str,
                     now: datetime | None = None) -> CardPaymentResult:
    """Charge what the customer entered in the Payment Element (a ConfirmationToken made by
    Stripe.js on the page). No lock is held while Stripe is called.

    Returns the payment: succeeded, requires_action (the page then runs 3-D Secure),
    or failed with the bank's message. Stripe being down raises a DomainError and leaves
    the attempt open so that the retry sends the same idempotency key.
    """
    now = now or timezone.now()
    if not confirmation_token or not confirmation_token.startswith("ctoken_") \
            or len(confirmation_token) > 255:
        raise DomainError("The card details did not come through; please enter them again.")
    payment = _open_card_payment(booking_id=booking.pk, confirmation_token=confirmation_token,
                                 now=now)
    try:
        intent = _with_stripe_customer(
            booking.purchaser_id,
            lambda customer_id: gateway.create_payment_intent(
                amount=payment.amount,
                currency=payment.currency,
                customer_id=customer_id,
                confirmation_token=confirmation_token,
                metadata=_intent_metadata(booking, payment),
                description=_intent_description(booking),
                statement_descriptor_suffix=booking.reference,
                idempotency_key=payment.idempotency_key,
            ),
        )
    except gateway.CardDeclined as declined:
        failed = payment_mark_failed(payment_id=payment.pk, message=declined.message,
                                     payment_intent_id=declined.payment_intent_id)
        return CardPaymentResult(failed, released=_release_after_declines(
            booking_id=booking.pk, now=now))
    except gateway.PaymentRequestRejected as rejected:
        # Closing this attempt means the next try gets a new idempotency key.
        return CardPaymentResult(payment_mark_failed(
            payment_id=payment.pk,
            message=f"The card could not be used ({rejected}). Please enter it again."))
    except gateway.PaymentProviderError as error:
        logger.warning("Stripe unavailable paying %s: %s", booking.reference, error)
        raise DomainError(PROVIDER_DOWN_MESSAGE, code="provider_unavailable", status=503) from error
    if isinstance(intent.get("payment_method"), str):
        _remember_card(payment.pk, intent["payment_method"])
    payment = payment_apply_intent(intent=intent, now=now) or payment
    secret = intent.get("client_secret", "") if intent.get("status") == "requires_action" else ""
    return CardPaymentResult(payment, secret)


def _remember_card(payment_id: int, payment_method_id: str) -> None:
    try:
        brand, last4 = gateway.retrieve_card(payment_method_id)
    except gateway.PaymentProviderError:
        return  # cosmetic: the webhook path fills it in later
    Payment.objects.filter(pk=payment_id, card_last4="").update(card_brand=brand, card_last4=last4)


def payment_mark_failed(*, payment_id: int, message: str, payment_intent_id: str | None = None,
                        stripe_event=None) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment_id)
        if payment_intent_id and not payment.stripe_payment_intent_id:
            payment.stripe_payment_intent_id = payment_intent_id
        if not payment.can_become(Payment.Status.FAILED):
            # A late or out-of-order failure never downgrades money we already have, nor
            # reopens an intent that was cancelled.
            PaymentEvent.objects.create(payment=payment, kind="payment.failed_ignored",
                                        stripe_event=stripe_event, data={"message": message})
            return payment
        payment.move_to(Payment.Status.FAILED)
        payment.failure_message = message[:500]
        payment.save(update_fields=["status", "failure_message", "stripe_payment_intent_id",
                                    "updated_at"])
        PaymentEvent.objects.create(payment=payment, kind="payment.failed",
                                    stripe_event=stripe_event, data={"message": message})
    return payment


INTENT_STATUS = {
    "requires_payment_method": Payment.Status.REQUIRES_PAYMENT,
    "requires_confirmation": Payment.Status.REQUIRES_PAYMENT,
    "requires_action": Payment.Status.REQUIRES_ACTION,
    "processing": Payment.Status.PROCESSING,
    "requires_capture": Payment.Status.PROCESSING,
    "canceled": Payment.Status.CANCELED,
}


def find_payment_for_intent(intent: dict) -> Payment | None:
    payment = Payment.objects.filter(stripe_payment_intent_id=intent["id"]).first()
    if payment:
        return payment
    payment_id = str((intent.get("metadata") or {}).get("payment_id", ""))
    if payment_id.isdigit():
        return Payment.objects.filter(
            pk=int(payment_id), stripe_payment_intent_id__isnull=True
        ).first()
    return None


def payment_sync_from_stripe(*, intent: dict, stripe_event=None) -> Payment | None:
    """Apply a PaymentIntent as Stripe reports it (webhook or reconciliation): fill in the
    card's brand and last four if we lack them (a network call, outside any lock), then
    apply its status. None when the intent is not one of ours."""
    payment = find_payment_for_intent(intent)
    if payment is None:
        return None
    method = intent.get("payment_method")
    if isinstance(method, dict):
        method = method.get("id")
    if method and not payment.card_last4:
        _remember_card(payment.pk, method)
        payment = None  # read again: the card's details were written since
    return payment_apply_intent(intent=intent, stripe_event=stripe_event, found=payment)


def payment_apply_intent(*, intent: dict, stripe_event=None, now: datetime | None = None,
                         found: Payment | None = None) -> Payment | None:
    """Bring our payment in line with a PaymentIntent. Idempotent, and safe in any order:
    money that succeeded is never taken back by a later, older message.
    Returns None when no payment of ours matches the intent. `found`: the caller's
    unlocked read of find_payment_for_intent(intent), spared a second look."""
    now = now or timezone.now()
    found = found or find_payment_for_intent(intent)
    if found is None:
        return None
    status = intent.get("status")
    error = intent.get("last_payment_error") or {}
    if status == "requires_payment_method" and error:
        return payment_mark_failed(payment_id=found.pk, message=error.get("message", "Declined"),
                                   payment_intent_id=intent["id"], stripe_event=stripe_event)
    if found.has_succeeded and found.stripe_payment_intent_id:
        # Money that arrived stays arrived (it only moves between refund states), so an
        # unlocked read is enough to know this message changes nothing: Stripe's second
        # word on a paid intent is recorded without taking the booking and payment locks.
        if stripe_event is not None:
            PaymentEvent.objects.create(payment=found, kind="payment.event_after_success",
                                        stripe_event=stripe_event,
                                        data={"payment_intent": intent["id"], "status": status})
        return found
    with transaction.atomic():
        # Lock order everywhere: booking, then payment, then the user's totals.
        booking = (Booking.objects.select_for_update(of=("self",))
                   .filter(pk=found.booking_id).first())
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=found.pk)
        if not payment.stripe_payment_intent_id:
            payment.stripe_payment_intent_id = intent["id"]
            payment.save(update_fields=["stripe_payment_intent_id", "updated_at"])
        if payment.has_succeeded:
            if stripe_event is not None:
                PaymentEvent.objects.create(payment=payment, kind="payment.event_after_success",
                                            stripe_event=stripe_event,
                                            data={"payment_intent": intent["id"],
                                                  "status": status})
            return payment
        if status == "succeeded":
            if int(intent.get("amount_received") or intent.get("amount") or 0) != payment.amount:
                logger.error("Intent %s amount differs from payment %s", intent["id"], payment.pk)
            _payment_succeeded(payment, now=now, stripe_event=stripe_event,
                               data={"payment_intent": intent["id"]}, booking=booking)
            return payment
        new_status = INTENT_STATUS.get(status)
        # A status the table does not allow from here is an older message arriving late
        # (Stripe does not promise order): nothing changes.
        if new_status and new_status != payment.status and payment.can_become(new_status):
            payment.move_to(new_status)
            payment.save(update_fields=["status", "updated_at"])
            PaymentEvent.objects.create(payment=payment, kind=f"payment.{new_status}",
                                        stripe_event=stripe_event,
                                        data={"payment_intent": intent["id"]})
    return payment


def payment_count_succeeded(*, payment_id: int, evidence: str, stripe_event=None,
                            now: datetime | None = None) -> Payment:
    """Stripe showed, other than by the PaymentIntent, that this payment succeeded (a
    refund of it exists): count it as paid now, once. The success event arriving later is
    then an event after success, and changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
        Booking.objects.select_for_update(of=("self",)).filter(pk=booking_id).first()
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment_id)
        if not payment.has_succeeded:
            _payment_succeeded(payment, now=now, stripe_event=stripe_event,
                               data={"evidence": evidence})
        elif payment.succeeded_at is None:
            # Marked refunded by a refund recorded first, never counted as paid (older
            # code): count it now and keep the refund status its refunds give it.
            refund_status = payment.status
            _payment_succeeded(payment, now=now, stripe_event=stripe_event,
                               data={"evidence": evidence, "repaired": True})
            payment.move_to(refund_status)
            payment.save(update_fields=["status", "updated_at"])
    return payment


def _payment_succeeded(payment: Payment, *, now: datetime, actor=None, stripe_event=None,
                       data: dict | None = None, booking: Booking | None = None) -> None:
    """The caller holds the booking and payment row locks (in that order); `booking`, the
    row it locked, if it has it at hand. Counts the money once, then pays the booking
    (re-taking seats for a payment that arrived after its hold lapsed), or records it as
    unneeded when the seats are gone or the booking no longer needs it (the refunds layer
    then gives it back: _note_unneeded)."""
    payment.move_to(Payment.Status.SUCCEEDED)
    payment.succeeded_at = now
    payment.failure_message = ""
    payment.save(update_fields=["status", "succeeded_at", "failure_message", "updated_at"])
    User.objects.filter(pk=payment.user_id).update(total_spent=F("total_spent") + payment.amount)
    PaymentEvent.objects.create(payment=payment, kind="payment.succeeded",
                                stripe_event=stripe_event, data=data or {})
    if booking is None:
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=payment.booking_id)
    if payment.purpose == Payment.Purpose.BALANCE:
        _balance_succeeded(payment, booking, actor=actor)
        return
    if booking.status in (Booking.Status.PENDING, Booking.Status.EXPIRED):
        try:
            with transaction.atomic():
                booking_apply_transition(booking, Booking.Status.PAID, actor=actor, now=now,
                                         data={"payment": payment.pk,
                                               "late": booking.status == Booking.Status.EXPIRED})
        except ConflictError as error:
            booking.refresh_from_db()
            _note_unneeded(payment, booking, reason=f"Paid after the hold ran out: "
                                                    f"{error.message}")
            return
        # The confirmation (which does not name the invoice of a booking paid at once) is
        # recorded first: the invoice takes the number series' row lock, which every
        # payment's transaction waits for, so it comes last and is held for the least time.
        booking_send_confirmations(booking)
        # The tax point is the payment: the invoice is issued in the same transaction.
        invoice_for_paid_booking(booking=booking, now=now, actor=actor)
        return
    _note_unneeded(
        payment, booking,
        reason=f"Payment arrived for a booking that is {booking.get_status_display().lower()}",
    )


def _balance_succeeded(payment: Payment, booking: Booking, *, actor=None) -> None:
    """A balance payment arrived (the caller holds the booking and payment locks). It pays
    what a paid booking still owed, or a booking on account's invoice (paid in full, the
    booking becomes paid): the booking is not confirmed again, no confirmation is re-sent
    and no invoice issued; the customer gets a receipt. A booking that no longer owes it (cancelled
    meanwhile, or the balance was paid another way) cannot take it: it goes back."""
    others = sum(p.amount for p in Payment.objects.filter(booking_id=booking.pk)
                 .exclude(pk=payment.pk) if p.has_succeeded)
    if not booking_owes_balance(booking) or others >= booking.total_amount:
        _note_unneeded(payment, booking, reason=(
            f"Balance payment arrived for a booking that is "
            f"{booking.get_status_display().lower()} and owed nothing"))
        return
    if others + payment.amount > booking.total_amount:
        logger.error("Balance payment %s pays %s more than booking %s owed", payment.pk,
                     others + payment.amount - booking.total_amount, booking.reference)
    if booking.status == Booking.Status.PENDING \
            and others + payment.amount >= booking.total_amount:
        # A booking on account paid in full by card: paid exactly as a full bank transfer
        # makes it (on_account_payment_record); its invoice, issued when it was
        # confirmed, stands.
        booking_apply_transition(booking, Booking.Status.PAID, actor=actor,
                                 now=payment.succeeded_at or timezone.now(),
                                 data={"payment": payment.pk, "on_account": True,
                                       "by_card": True})
    still_owed = booking_balance_due(booking=booking)
    PaymentEvent.objects.create(payment=payment, kind="payment.balance_paid",
                                data={"still_owed": still_owed})
    if not still_owed:
        # Paid in full for the dearer date: the invoice says what was sold now.
        invoice_reissue_for_booking(booking_id=booking.pk, actor=actor,
                                    reason="Replaced: the booking moved to another date")
    log_action("booking.balance_paid", actor=actor, target=booking, user=booking.purchaser_id,
               data={"payment": payment.pk, "amount": payment.amount,
                     "still_owed": still_owed})
    booking_send_balance_paid(booking, payment, still_owed=still_owed)


def _note_unneeded(payment: Payment, booking: Booking, *, reason: str) -> None:
    """Money was counted that the booking cannot take (its seats went, it is cancelled,
    or another payment paid it). It has to go back, and giving money back is the refunds
    layer's work: this event is the durable record of what is owed and why, which
    apps.refunds.services.payment_refund_unneeded settles. Whoever applies a payment from a
    higher layer (webhooks, reconciliation, refunds, fraud warnings) calls it next, and the
    refunds sweep settles any left behind."""
    PaymentEvent.objects.create(payment=payment, kind=UNNEEDED_EVENT,
                                data={"reason": reason, "booking_status": booking.status})


def payment_record_manual(*, booking: Booking, actor: User | None, method=Payment.Method.INVOICE,
                          now: datetime | None = None, note: str = "",
                          new_booking: bool = False) -> Payment:
    """Staff took the money another way (invoice, bank transfer): record it and pay the
    booking in one transaction.

    `new_booking`: `booking` is the pending booking `booking_create` has just returned,
    made in the caller's transaction, which is still open. Nobody else can see it until
    that commits, so nothing is read back: it is not locked again, it has no payment (this
    is attempt 1) and no invoice, and it is paid as it is."""
    now = now or timezone.now()
    if new_booking:
        return _record_manual_on_new_booking(booking=booking, actor=actor, method=method,
                                             now=now, note=note)
    with transaction.atomic():
        locked = Booking.objects.select_for_update(of=("self",)).get(pk=booking.pk)
        if locked.status != Booking.Status.PENDING:
            raise ConflictError(
                f"Only a booking awaiting payment can be marked paid; {locked.reference} is "
                f"{locked.get_status_display().lower()}."
            )
        payment = Payment.objects.create(
            booking=locked,
            user_id=locked.purchaser_id,
            method=method,
            amount=locked.total_amount,
            currency=locked.currency,
            attempt=_next_attempt(locked.pk),
        )
        PaymentEvent.objects.create(payment=payment, kind="payment.recorded_manually",
                                    data={"note": note, "by": getattr(actor, "email", "")})
        _payment_succeeded(payment, now=now, actor=actor)
        log_action("payment.recorded_manually", actor=actor, target=payment,
                   user=locked.purchaser_id, data={"amount": payment.amount})
    return payment


def _record_manual_on_new_booking(*, booking: Booking, actor, method, now: datetime,
                                  note: str) -> Payment:
    """payment_record_manual for a booking made in the caller's open transaction: the same
    rows as _payment_succeeded writes for a pending booking (the payment succeeded, both
    its events, the purchaser's total, the booking paid, its invoice, the confirmations),
    without re-reading what this transaction has just written. No savepoint: an error
    rolls back the caller's whole transaction, booking included."""
    if booking.status != Booking.Status.PENDING or booking.on_account:
        raise ConflictError(f"Only a booking awaiting payment can be marked paid; "
                            f"{booking.reference} is {booking.get_status_display().lower()}.")
    with transaction.atomic(savepoint=False):
        payment = Payment(booking=booking, user_id=booking.purchaser_id, method=method,
                          amount=booking.total_amount, currency=booking.currency, attempt=1)
        payment.move_to(Payment.Status.SUCCEEDED)
        payment.succeeded_at = now
        payment.save()
        PaymentEvent.objects.bulk_create([
            PaymentEvent(payment=payment, kind="payment.recorded_manually",
                         data={"note": note, "by": getattr(actor, "email", "")}),
            PaymentEvent(payment=payment, kind="payment.succeeded", data={}),
        ])
        # The payer is the purchaser: their totals move in one UPDATE.
        booking_apply_transition(booking, Booking.Status.PAID, actor=actor, now=now,
                                 data={"payment": payment.pk, "late": False},
                                 purchaser_spent=payment.amount)
        # The tax point is the payment: the invoice is issued in the same transaction.
        invoice_for_paid_booking(booking=booking, now=now, actor=actor, new_booking=True)
        set_prefetched(payment, "refunds", [])
        set_prefetched(booking, "payments", [payment])
        set_prefetched(booking, "attendees", booking.created_attendees)
        set_prefetched(booking, "discounts", booking.created_discounts)
        booking_send_confirmations(booking, loaded=True)
        log_action("payment.recorded_manually", actor=actor, target=payment,
                   user=booking.purchaser_id, data={"amount": payment.amount})
    return payment


def payment_cancel_open_intents(*, booking_id: int) -> int:
    """After a hold lapses: cancel the intents still waiting for a card so they cannot be
    paid. One that succeeded meanwhile refuses and its webhook takes the late path. Stripe
    not answering is raised (PaymentProviderError) once every intent has been tried, so the
    task retries: the intents cancelled meanwhile are no longer open and are not asked
    again."""
    cancelled = 0
    unanswered: gateway.PaymentProviderError | None = None
    open_payments = Payment.objects.filter(
        booking_id=booking_id,
        stripe_payment_intent_id__isnull=False,
        status__in=Payment.OPEN,
    )
    for payment in open_payments:
        try:
            intent = gateway.cancel_payment_intent(payment.stripe_payment_intent_id)
        except gateway.PaymentRequestRejected as error:
            logger.info("Could not cancel %s: %s", payment.stripe_payment_intent_id, error)
            continue
        except gateway.PaymentProviderError as error:
            logger.warning("Stripe did not answer cancelling %s: %s",
                           payment.stripe_payment_intent_id, error)
            unanswered = unanswered or error
            continue
        payment_apply_intent(intent=intent)
        cancelled += 1
    Payment.objects.filter(
        booking_id=booking_id, stripe_payment_intent_id__isnull=True,
        status=Payment.Status.REQUIRES_PAYMENT,
    ).update(status=Payment.Status.CANCELED)
    if unanswered is not None:
        raise unanswered
    return cancelled
