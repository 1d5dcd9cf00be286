"""Changing a booking after it was made: moving it to another date of the same course
(`booking_transfer`) and cancelling one place of a group booking (`attendee_cancel`).
Both may give money back, so they live with the refunds.

Lock order, as everywhere: the booking, then its payments, then the session rows (taken
by the seat UPDATEs). The money each computes is decided under those locks; what a page
showed before (`transfer_quote`, `attendee_cancel_quote`) is only a preview, and a
customer who confirmed an amount that no longer holds is asked again (QuoteChanged).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.bookings.notifications import booking_notify_attendee_cancelled
from apps.bookings.selectors import seats_held_on_session
from apps.bookings.services import (
    attendee_seat_release,
    attendee_seat_share,
    booking_apply_transition,
    booking_move,
)
from apps.core.errors import ConflictError, DomainError
from apps.core.money import format_money
from apps.invoicing.services import credit_to_match_money_kept
from apps.payments.models import Payment
from apps.payments.selectors import booking_balance_due
from apps.sessions.models import CourseSession
from apps.users.audit import log_action

from .models import Refund
from .policy import CancellationQuote, cancellation_quote
from .services import refund_create, refundable_amount

CUSTOMER = Refund.Initiator.CUSTOMER
STAFF = Refund.Initiator.STAFF


class ChangeRefused(ConflictError):
    code = "change_refused"


class AmountChanged(ConflictError):
    """The money the customer confirmed is no longer what the change gives."""

    code = "quote_changed"


def _held(payments) -> int:
    """What the booking's payments still hold: succeeded minus refunds not failed."""
    return sum(refundable_amount(p) for p in payments)


def _refund_newest_first(*, payments, amount: int, initiator: str, reason: str,
                         actor) -> list[Refund]:
    """Give `amount` back across the locked payments, the newest succeeded one first."""
    refunds = []
    for payment in sorted(payments, key=lambda p: p.pk, reverse=True):
        if amount <= 0:
            break
        part = min(refundable_amount(payment), amount)
        if part <= 0:
            continue
        refund = refund_create(payment=payment, amount=part, initiator=initiator,
                               reason=reason, actor=actor, lock_held=True)
        refund.refresh_from_db()  # an invoice refund has already succeeded: say so
        refunds.append(refund)
        amount -= part
    return refunds


def refund_destination(booking: Booking) -> str:
    """Where a refund of this booking goes (its newest payment first): "Visa •••• 4242",
    or how they paid ("Invoice")."""
    payment = Payment.objects.filter(booking=booking, status__in=Payment.MONEY_ARRIVED
                                     ).order_by("-pk").first()
    if payment is None:
        return "the way they paid"
    if payment.card_last4:
        return f"{payment.card_brand.title()} •••• {payment.card_last4}"
    return payment.get_method_display()


def _gross(payments) -> int:
    """What the booking's payments brought in, refunds aside."""
    return sum(p.amount for p in payments if p.has_succeeded)


def booking_change_options(*, booking: Booking, now: datetime | None = None) -> dict:
    """What the purchaser's booking page offers: moving to another date (until the
    cut-off), cancelling single places (a paid or pending group booking before the
    course), and what is still owed."""
    now = now or timezone.now()
    open_booking = booking.status in (Booking.Status.PENDING, Booking.Status.PAID)
    return {
        "balance_due": booking_balance_due(booking=booking),
        "can_change_date": booking.status == Booking.Status.PAID
        and now <= transfer_cutoff(booking=booking),
        "transfer_cutoff": transfer_cutoff(booking=booking),
        "can_cancel_places": open_booking and booking.seats > 1
        and booking.session.starts_at > now,
    }


# --- transfer ------------------------------------------------------------------------

@dataclass(frozen=True)
class TransferQuote:
    target: CourseSession
    before: int          # the booking's total now
    after: int           # its total on the target date
    refund: int          # given back (the price is lower)
    owed: int            # still to pay (the price is higher)
    currency: str

    @property
    def difference(self) -> int:
        return self.after - self.before

    def consequence(self) -> str:
        if self.refund:
            return f"refund {format_money(self.refund, self.currency)}"
        if self.owed:
            return f"charge {format_money(self.owed, self.currency)} more"
        if self.difference < 0:
            return f"price {format_money(-self.difference, self.currency)} lower; nothing paid"
        return "same price"


def transfer_cutoff(*, booking: Booking) -> datetime:
    """The last moment a customer may move this booking themselves."""
    return booking.session.starts_at - timedelta(hours=settings.TRANSFER_CUTOFF_HOURS)


def _transfer_refusal(*, booking: Booking, target: CourseSession | None, initiator: str,
                      now: datetime) -> str:
    """Why this booking cannot move to `target` now ("" when it can, seats aside: the
    seat UPDATE decides those)."""
    customer = initiator == CUSTOMER
    allowed = (Booking.Status.PAID,) if customer else (Booking.Status.PENDING,
                                                       Booking.Status.PAID)
    if booking.status not in allowed:
        return (f"{booking.reference} is {booking.get_status_display().lower()}: only "
                f"{'paid' if customer else 'pending or paid'} bookings can move to another "
                "date.")
    if target is None or target.course_id != booking.session.course_id:
        return "A booking can only move to another date of the same course."
    if target.pk == booking.session_id:
        return "The booking is already on that date."
    if target.status != CourseSession.Status.SCHEDULED or target.starts_at <= now:
        return "That date is no longer open for booking."
    if customer and now > transfer_cutoff(booking=booking):
        return (f"Bookings can be moved to another date until {settings.TRANSFER_CUTOFF_HOURS}"
                " hours before the course; please contact us.")
    if booking.status == Booking.Status.PENDING and target.price != booking.unit_price:
        return ("A booking awaiting payment can only move to a date at the same price: "
                "cancel it and book the other date instead.")
    return ""


def _transfer_money(*, booking: Booking, target: CourseSession, payments) -> TransferQuote:
    """Cheaper: what was paid towards the current total beyond the new total comes back
    (never more than the payments still hold; a fee the policy kept on a cancelled place
    stays kept). Dearer: the new total beyond what was paid is owed."""
    # The booking keeps the discount it was given, in money (it was agreed when booking).
    discount = booking.list_amount - booking.total_amount
    after = max(0, target.price * booking.seats - discount)
    refund = owed = 0
    if booking.status == Booking.Status.PAID:
        gross = _gross(payments)
        refund = min(_held(payments), max(0, min(booking.total_amount, gross) - after))
        owed = max(0, after - gross)
    return TransferQuote(target=target, before=booking.total_amount, after=after,
                         refund=refund, owed=owed, currency=booking.currency)


def transfer_options(*, booking: Booking, initiator: str = CUSTOMER,
                     now: datetime | None = None) -> list[TransferQuote]:
    """The dates this booking could move to now, with what each would mean for the money
    (a read for the pages; booking_transfer decides under its locks)."""
    now = now or timezone.now()
    payments = list(Payment.objects.filter(booking=booking))
    targets = CourseSession.objects.filter(
        course_id=booking.session.course_id, status=CourseSession.Status.SCHEDULED,
        starts_at__gt=now, seats_taken__lte=F("capacity") - booking.seats,
    ).exclude(pk=booking.session_id).select_related("location").order_by("starts_at")
    return [_transfer_money(booking=booking, target=target, payments=payments)
            for target in targets
            if not _transfer_refusal(booking=booking, target=target, initiator=initiator,
                                     now=now)]


def booking_transfer(*, booking_id: int, to_session_id: int, actor, initiator: str,
                     confirmed_difference: int | None = None,
                     now: datetime | None = None) -> TransferQuote:
    """Move a booking to another date of the same course, at the target's price.

    A customer may move their paid booking until TRANSFER_CUTOFF_HOURS before the course;
    staff any pending or paid booking any time before the target starts (a pending one only
    at the same price). The target's seats are taken and the old ones released in one
    transaction (bookings.booking_move: capacity checked in the UPDATE, no oversell).

    Money: the booking's unit price and total become the target's (less the discount it
    was given, kept in money). Paid less than the new total: the booking stays paid and
    confirmed (the seats are theirs) and the difference is owed (booking_balance_due;
    staff see it, the customer is told). Paid more: the difference is refunded in full,
    newest payment first (the customer is not cancelling anything, so the cancellation
    tiers do not apply). `confirmed_difference`: the new total
    minus the old one the customer was shown; if it changed meanwhile, AmountChanged.
    Everyone is told (same calendar UIDs, higher SEQUENCE). Logged with before and after."""
    now = now or timezone.now()
    with transaction.atomic():
        # No join in the locking query: after waiting for a concurrent move, PostgreSQL
        # re-checks the join against the old session row and would find no booking.
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        target = CourseSession.objects.filter(pk=to_session_id).first()
        if refusal := _transfer_refusal(booking=booking, target=target, initiator=initiator,
                                        now=now):
            raise ChangeRefused(refusal)
        people = list(booking.attendees.values_list("email", flat=True))
        if clash := list(seats_held_on_session(session_id=target.pk, emails=people, now=now)):
            names = ", ".join(sorted({a.name for a in clash}))
            have = "has a seat" if len(clash) == 1 else "have seats"
            raise ChangeRefused(f"{names} already {have} on that date.")
        payments = list(Payment.objects.select_for_update(of=("self",)).filter(
            booking=booking).order_by("pk"))
        quote = _transfer_money(booking=booking, target=target, payments=payments)
        if confirmed_difference is not None and quote.difference != confirmed_difference:
            raise AmountChanged("The price of that date has changed: please look again "
                                "before you confirm. Nothing has been moved.")
        before = {"unit_price": booking.unit_price, "total": booking.total_amount,
                  "session": booking.session_id}
        refunds = _refund_newest_first(payments=payments, amount=quote.refund,
                                       initiator=initiator, actor=actor,
                                       reason=f"Moved to another date ({booking.reference})")
        Booking.objects.filter(pk=booking.pk).update(
            unit_price=target.price, list_amount=target.price * booking.seats,
            total_amount=quote.after)
        log_action("booking.transferred", actor=actor, target=booking,
                   user=booking.purchaser_id,
                   data={"initiator": initiator, "before": before,
                         "after": {"unit_price": target.price, "total": quote.after,
                                   "session": target.pk},
                         "refunded": quote.refund, "owed": quote.owed})
        booking_move(booking_id=booking.pk, to_session_id=target.pk, actor=actor, now=now,
                     refunds=refunds,
                     price_change={"before": quote.before, "after": quote.after,
                                   "owed": quote.owed, "refunded": quote.refund})
    return quote


# --- one attendee --------------------------------------------------------------------

def _seat_refund(*, booking: Booking, share: int, payments, initiator: str,
                 now: datetime) -> CancellationQuote:
    """What cancelling one place gives back, of what was actually paid for it: its
    `share` of the booking's total (discounts included: bookings.attendee_seat_share),
    less any balance still owed (a move to a dearer date not yet paid is settled by the
    cancelled place first), never more than the payments still hold. A customer gets the
    policy's share of it; staff refund it all (as for a whole booking)."""
    seat_paid = 0
    if booking.status == Booking.Status.PAID:
        others = booking.total_amount - share
        seat_paid = max(0, min(share, _held(payments), _gross(payments) - others))
    quote = cancellation_quote(booking=booking, paid=seat_paid, now=now)
    if initiator == CUSTOMER:
        return quote
    return CancellationQuote(100, seat_paid, booking.currency,
                             "Cancelled by staff: the place is refunded in full.")


def _attendee_refusal(*, booking: Booking, attendee: Attendee, actor, initiator: str,
                      now: datetime) -> str:
    if initiator == CUSTOMER and getattr(actor, "pk", None) != booking.purchaser_id:
        return "Only the person who made the booking can cancel a place on it."
    if booking.status not in (Booking.Status.PENDING, Booking.Status.PAID):
        return (f"{booking.reference} is {booking.get_status_display().lower()}: its places "
                "can no longer be cancelled.")
    if booking.session.starts_at <= now:
        return "The course has started: places can no longer be cancelled."
    if booking.seats <= 1:
        return (f"{attendee.name} has the only place left on {booking.reference}: cancel the "
                "whole booking instead.")
    return ""


def _settle_on_account_after_place(*, booking: Booking, attendee: Attendee, payments,
                                   initiator: str, actor, now: datetime) -> list[Refund]:
    """A place cancelled on an unpaid or partly paid booking on account (invoiced before it
    is paid; the caller holds the locks): the invoice is credited down to the new total,
    and if bank transfers already cover it, the booking is paid and anything paid above the
    new total goes back."""
    credit_to_match_money_kept(booking_id=booking.pk, money_kept=booking.total_amount,
                               reason=f"Place of {attendee.name} cancelled",
                               source_key=f"place:{attendee.pk}", now=now, actor=actor)
    held = _held(payments)
    if held < booking.total_amount:
        return []
    refunds = _refund_newest_first(payments=payments, amount=held - booking.total_amount,
                                   initiator=initiator, actor=actor,
                                   reason="Paid more than the booking now costs")
    booking_apply_transition(booking, Booking.Status.PAID, actor=actor, now=now,
                             data={"on_account": True, "after": "place cancelled"})
    return refunds


def attendee_cancel_quote(*, attendee: Attendee, initiator: str = CUSTOMER,
                          now: datetime | None = None) -> CancellationQuote:
    """A preview of attendee_cancel's refund for the confirmation page."""
    booking = attendee.booking
    return _seat_refund(booking=booking, share=attendee_seat_share(booking=booking,
                                                                   attendee=attendee),
                        payments=list(Payment.objects.filter(booking=booking)),
                        initiator=initiator, now=now or timezone.now())


def attendee_cancel(*, attendee_id: int, actor, initiator: str,
                    confirmed_amount: int | None = None,
                    now: datetime | None = None) -> list[Refund]:
    """Cancel one place of a group booking: the purchaser (or staff), before the course,
    never the last place (that is a whole-booking cancellation: booking_cancel). The seat
    goes back to the session (and the waiting list hears of it), the booking has one seat
    fewer and its total one unit price less, the attendee row is kept, marked cancelled.
    The refund for the place is computed under the locks (_seat_refund) and refunded
    newest payment first; `confirmed_amount` that no longer holds raises AmountChanged.
    The attendee gets a calendar cancellation, the purchaser the money. Already cancelled:
    nothing happens ([])."""
    now = now or timezone.now()
    booking_id = Attendee.all_objects.values_list("booking_id", flat=True).filter(
        pk=attendee_id).first()
    if booking_id is None:
        raise DomainError("That attendee does not exist.", code="not_found", status=404)
    with transaction.atomic():
        # No join in the locking query: after waiting for a concurrent move, PostgreSQL
        # re-checks the join against the old session row and would find no booking.
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        attendee = Attendee.all_objects.get(pk=attendee_id)
        if attendee.cancelled_at is not None:
            return []  # a double click: the first one did it
        if refusal := _attendee_refusal(booking=booking, attendee=attendee, actor=actor,
                                        initiator=initiator, now=now):
            raise ChangeRefused(refusal)
        payments = list(Payment.objects.select_for_update(of=("self",)).filter(
            booking=booking).order_by("pk"))
        share = attendee_seat_share(booking=booking, attendee=attendee)
        quote = _seat_refund(booking=booking, share=share, payments=payments,
                             initiator=initiator, now=now)
        if confirmed_amount is not None and quote.amount != confirmed_amount:
            raise AmountChanged(f"The refund for that place has changed: cancelling it now "
                                f"refunds {quote.amount_display}. Nothing has been cancelled "
                                "yet; please confirm again.")
        refunds = _refund_newest_first(
            payments=payments, amount=quote.amount, initiator=initiator, actor=actor,
            reason=f"Place of {attendee.name} cancelled")
        attendee_seat_release(booking=booking, attendee=attendee, now=now, share=share)
        if booking.on_account and booking.status == Booking.Status.PENDING:
            refunds += _settle_on_account_after_place(
                booking=booking, attendee=attendee, payments=payments, initiator=initiator,
                actor=actor, now=now)
        log_action("booking.attendee_cancelled", actor=actor, target=booking,
                   user=booking.purchaser_id,
                   data={"initiator": initiator, "attendee": attendee.pk,
                         "name": attendee.name, "seats": [booking.seats + 1, booking.seats],
                         "total": [booking.total_amount + share, booking.total_amount],
                         "refund": quote.amount, "percent": quote.percent})
        booking_notify_attendee_cancelled(booking=booking, attendee=attendee, refunds=refunds,
                                          now=now)
    return refunds
