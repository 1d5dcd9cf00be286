"""Cancelling bookings and whole sessions, with the refunds that follow. One transaction
per booking: its status, its seats and its refund records change together or not at all."""

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.notifications import (
    SESSION_CANCELLED,
    booking_notify,
    booking_notify_cancelled,
)
from apps.bookings.services import booking_apply_transition
from apps.bookings.waitlist import waitlist_seats_freed
from apps.core.errors import ConflictError, DomainError
from apps.core.money import format_money
from apps.invoicing.services import credit_to_match_money_kept
from apps.payments.holds import cancel_open_intents_task
from apps.payments.models import Payment
from apps.sessions.catalogue_cache import catalogue_changed
from apps.sessions.models import CourseSession
from apps.users.models import ActivityLog

from .models import Refund
from .policy import CancellationQuote, cancellation_quote
from .services import booking_money_held, refund_create, refundable_amount


def booking_cancel(*, booking_id: int, actor=None, reason: str,
                   initiator: str = Refund.Initiator.STAFF, refund_amount: int | None = None,
                   now: datetime | None = None, notify: bool = True) -> list[Refund]:
    """Cancel a pending or paid booking, give its seats back and refund its payments
    (in full unless `refund_amount` says how much), and tell its people (unless `notify` is
    False: the caller tells them). Already cancelled: nothing happens."""
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
                                 data={"reason": reason, "with_session": not notify})
        transaction.on_commit(lambda: waitlist_seats_freed(session_id=booking.session_id))
        if was_pending:
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
        # An invoice issued before payment (a booking on account) is credited down to the
        # money kept now; a card refund still on its way credits when it succeeds.
        credit_to_match_money_kept(
            booking_id=booking.pk, money_kept=booking_money_held(booking_id=booking.pk),
            reason="Booking cancelled", source_key=f"cancel:{booking.pk}", now=now,
            actor=actor)
        Booking.objects.filter(pk=booking.pk).update(calendar_sequence=F("calendar_sequence") + 1)
        if notify:
            booking_notify_cancelled(booking=booking, refunds=refunds, reason=reason,
                                     was_confirmed=not was_pending, now=now)
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


def booking_cancel_by_customer(*, booking: Booking, actor, confirmed_amount: int | None = None,
                               now: datetime | None = None) -> list[Refund]:
    """The customer cancels their booking: the one service for it (portal and API).

    Under the booking and payment locks it checks the course has not started and computes
    the refund from the cancellation policy, then cancels and refunds exactly that amount;
    nothing computed before the lock (a page, a form) decides the money. When the
    customer confirmed an amount (`confirmed_amount`, minor units) and the policy now
    gives another, nothing happens and QuoteChanged carries the new quote to show them.
    Already cancelled (a double submit): nothing more is refunded and [] is returned."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Booking.objects.select_for_update(of=("self",)).select_related(
            "session").get(pk=booking.pk)
        if locked.status == Booking.Status.CANCELLED:
            return []  # a double click: the first one did it
        if locked.session.starts_at <= now:
            raise DomainError("The course has started: it can no longer be cancelled.",
                              code="started")
        payments = list(Payment.objects.select_for_update(of=("self",)).filter(
            booking=locked).order_by("pk"))
        quote = cancellation_quote(booking=locked,
                                   paid=sum(refundable_amount(p) for p in payments), now=now)
        if confirmed_amount is not None and quote.amount != confirmed_amount:
            raise QuoteChanged(quote)
        return booking_cancel(booking_id=locked.pk, actor=actor,
                              reason="Cancelled by the customer",
                              initiator=Refund.Initiator.CUSTOMER,
                              refund_amount=quote.amount, now=now)


def session_cancel(*, session_id: int, actor=None, reason: str,
                   now: datetime | None = None) -> dict:
    """Cancel a session: every pending or paid booking is cancelled and refunded in full,
    then everyone concerned is told once (purchasers about their money, attendees about
    their seats, one email per person however many bookings they are in). Safe to run
    twice, or by two people at once: each run reports only the bookings it cancelled, with
    the refunds it created as they stand in the ledger when it returns."""
    now = now or timezone.now()
    with transaction.atomic():
        # NO KEY: bookings being written hold KEY SHARE on the session (their foreign key)
        # before their seat UPDATE; a plain FOR UPDATE would deadlock with them.
        session = CourseSession.objects.select_for_update(no_key=True).get(pk=session_id)
        if session.status != CourseSession.Status.CANCELLED:
            session.status = CourseSession.Status.CANCELLED
            session.save(update_fields=["status"])
            catalogue_changed()
    cancelled: list[int] = []
    refunds: list[Refund] = []
    booking_ids = Booking.objects.filter(
        session_id=session_id, status__in=[Booking.Status.PENDING, Booking.Status.PAID]
    ).values_list("pk", flat=True)
    for booking_id in list(booking_ids):
        with transaction.atomic():
            # Lock, then re-check: another run (or the customer) may have cancelled it.
            status = Booking.objects.select_for_update(of=("self",)).filter(
                pk=booking_id).values_list("status", flat=True).first()
            if status not in (Booking.Status.PENDING, Booking.Status.PAID):
                continue
            refunds += booking_cancel(booking_id=booking_id, actor=actor, reason=reason,
                                      initiator=Refund.Initiator.SESSION_CANCELLED, now=now,
                                      notify=False)
            cancelled.append(booking_id)
    session_cancel_notify(session_id=session_id, reason=reason, now=now)
    return {"bookings": len(cancelled), "refunds": len(refunds),
            "refunded": sum(refund.amount for refund in refunds),
            "booking_ids": cancelled, "refund_ids": [refund.pk for refund in refunds]}


def session_cancel_notify(*, session_id: int, reason: str, now: datetime) -> None:
    """Tell everyone on the bookings a session cancel cancelled (this run's or an earlier,
    interrupted one's), one email per person: the unique (kind, recipient, key) row sends
    nobody a second one. Guests of a booking never paid never heard of it."""
    candidates = Booking.objects.filter(session_id=session_id, status=Booking.Status.CANCELLED)
    with_session = ActivityLog.objects.filter(
        action="booking.cancelled", target_type=Booking._meta.label_lower,
        target_id__in=[str(pk) for pk in candidates.values_list("pk", flat=True)],
        data__with_session=True).values_list("target_id", flat=True)
    ids = sorted({int(pk) for pk in with_session})
    if not ids:
        return
    with transaction.atomic():
        bookings = Booking.objects.filter(pk__in=ids).select_related(
            "session__course", "session__location", "purchaser").prefetch_related(
            "attendees", "payments__refunds").order_by("pk")
        booking_notify(change=SESSION_CANCELLED, bookings=bookings, now=now,
                       dedupe_key=f"session:{session_id}", reason=reason,
                       refunds=Refund.objects.filter(
                           payment__booking_id__in=ids,
                           initiator=Refund.Initiator.SESSION_CANCELLED).select_related(
                           "payment"),
                       guests_told=lambda booking: booking.paid_at is not None)


def refund_outcomes(*, refunds) -> dict[str, int]:
    """Amounts by refund status as the ledger holds them now (succeeded, pending, failed)."""
    totals = {Refund.Status.SUCCEEDED: 0, Refund.Status.PENDING: 0, Refund.Status.FAILED: 0}
    for status, amount in refunds.values_list("status", "amount"):
        totals[status] = totals.get(status, 0) + amount
    return totals


def refund_outcomes_text(*, refunds, currency: str) -> str:
    """"£50.00 refunded, £50.00 pending at Stripe, £50.00 failed" — what staff are told,
    read from the ledger, never the amounts asked for."""
    totals = refund_outcomes(refunds=refunds)
    labels = ((Refund.Status.SUCCEEDED, "refunded"), (Refund.Status.PENDING,
              "pending at Stripe (on its way)"), (Refund.Status.FAILED, "failed"))
    parts = [f"{format_money(totals[status], currency)} {label}"
             for status, label in labels if totals[status]]
    return ", ".join(parts) if parts else "no refund"


def session_failed_refunds(*, session_ids):
    """Failed refunds of these sessions' bookings that no later refund has replaced (the
    payment still has that much left to refund)."""
    failed = Refund.objects.filter(payment__booking__session_id__in=session_ids,
                                   status=Refund.Status.FAILED).select_related("payment")
    return [refund for refund in failed if refundable_amount(refund.payment) >= refund.amount]
