"""Cancelling bookings and whole sessions, with the refunds that follow. One transaction
per booking: its status, its seats and its refund records change together or not at all."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.core.emails import communication_queue
from apps.core.errors import ConflictError, DomainError
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.refunds.models import Refund
from apps.refunds.policy import CancellationQuote, cancellation_quote
from apps.refunds.services import refund_create, refundable_amount
from apps.sessions.models import CourseSession

from .models import Booking
from .services import booking_apply_transition


def booking_cancel(*, booking_id: int, actor=None, reason: str,
                   initiator: str = Refund.Initiator.STAFF, refund_amount: int | None = None,
                   now: datetime | None = None) -> list[Refund]:
    """Cancel a pending or paid booking, give its seats back and refund its payments
    (in full unless `refund_amount` says how much). Already cancelled: nothing happens."""
    now = now or timezone.now()
    refunds = []
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        if booking.status == Booking.Status.CANCELLED:
            return refunds
        if not booking.can_become(Booking.Status.CANCELLED):
            raise ConflictError(
                f"Booking {booking.reference} is {booking.get_status_display().lower()} "
                "and cannot be cancelled."
            )
        was_pending = booking.status == Booking.Status.PENDING
        booking_apply_transition(booking, Booking.Status.CANCELLED, actor=actor, now=now,
                                 data={"reason": reason})
        if was_pending:
            from .tasks import cancel_open_intents_task

            cancel_open_intents_task.delay_on_commit(booking.pk)
        remaining = refund_amount
        for payment in Payment.objects.select_for_update(of=("self",)).filter(
                booking=booking).order_by("pk"):
            available = refundable_amount(payment)
            amount = available if remaining is None else min(available, remaining)
            if amount <= 0:
                continue
            refunds.append(refund_create(payment=payment, amount=amount, initiator=initiator,
                                         reason=reason, actor=actor, lock_held=True))
            if remaining is not None:
                remaining -= amount
    return refunds


class QuoteChanged(ConflictError):
    """The refund the customer confirmed is no longer what the policy gives (a tier
    boundary passed, or a refund landed meanwhile): they must be asked again."""

    code = "quote_changed"

    def __init__(self, quote: CancellationQuote):
        super().__init__(
            f"The refund for cancelling has changed: cancelling now refunds "
            f"{quote.amount_display}. Nothing has been cancelled yet; please confirm again.")
        self.quote = quote


def booking_cancellation_quote(*, booking: Booking, now: datetime | None = None
                               ) -> CancellationQuote:
    """What the customer would get back for cancelling now: the policy's share of what
    they paid and have not yet had back. A read; the cancellation recomputes it locked."""
    paid = sum(refundable_amount(p) for p in Payment.objects.filter(booking=booking))
    return cancellation_quote(booking=booking, paid=paid, now=now)


def booking_cancel_by_customer(*, booking_id: int, actor, confirmed_amount: int,
                               now: datetime | None = None) -> list[Refund]:
    """The customer cancels, having confirmed `confirmed_amount` (minor units) as the
    refund. The policy amount is computed again under the booking and payment locks; if it
    differs, nothing happens and QuoteChanged carries the new quote to show them."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).select_related(
            "session").get(pk=booking_id)
        if booking.status == Booking.Status.CANCELLED:
            return []  # a double click: the first one did it
        if booking.session.starts_at <= now:
            raise DomainError("The course has started: it can no longer be cancelled.",
                              code="started")
        payments = list(Payment.objects.select_for_update(of=("self",)).filter(
            booking=booking).order_by("pk"))
        quote = cancellation_quote(booking=booking,
                                   paid=sum(refundable_amount(p) for p in payments), now=now)
        if quote.amount != confirmed_amount:
            raise QuoteChanged(quote)
        return booking_cancel(booking_id=booking.pk, actor=actor,
                              reason="Cancelled by the customer",
                              initiator=Refund.Initiator.CUSTOMER,
                              refund_amount=quote.amount, now=now)


def session_cancel(*, session_id: int, actor=None, reason: str,
                   now: datetime | None = None) -> dict:
    """Cancel a session: every pending or paid booking is cancelled and refunded in full,
    and every attendee is told. Safe to run twice: the second run finds nothing to do."""
    now = now or timezone.now()
    with transaction.atomic():
        # NO KEY: bookings being written hold KEY SHARE on the session (their foreign key)
        # before their seat UPDATE; a plain FOR UPDATE would deadlock with them.
        session = CourseSession.objects.select_for_update(no_key=True).get(pk=session_id)
        if session.status != CourseSession.Status.CANCELLED:
            session.status = CourseSession.Status.CANCELLED
            session.save(update_fields=["status"])
    summary = {"bookings": 0, "refunds": 0, "refunded": 0}
    booking_ids = Booking.objects.filter(
        session_id=session_id, status__in=[Booking.Status.PENDING, Booking.Status.PAID]
    ).values_list("pk", flat=True)
    for booking_id in list(booking_ids):
        with transaction.atomic():
            refunds = booking_cancel(booking_id=booking_id, actor=actor, reason=reason,
                                     initiator=Refund.Initiator.SESSION_CANCELLED, now=now)
            booking = Booking.objects.select_related("session__course", "session__location") \
                .get(pk=booking_id)
            if booking.status != Booking.Status.CANCELLED:
                continue
            summary["bookings"] += 1
            summary["refunds"] += len(refunds)
            summary["refunded"] += sum(refund.amount for refund in refunds)
            for attendee in booking.attendees.all():
                communication_queue(
                    kind=Communication.Kind.SESSION_CANCELLED,
                    recipient=attendee.email,
                    template="emails/session_cancelled.txt",
                    context={"booking": booking, "session": booking.session,
                             "attendee": attendee, "reason": reason,
                             "refunded": sum(r.amount for r in refunds)},
                    user_id=attendee.user_id,
                    booking=booking,
                    dedupe_key=f"session:{session_id}",
                )
    return summary
