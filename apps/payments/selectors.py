"""Payment reads."""

from django.db.models import Prefetch

from apps.bookings.models import Booking

from .models import Payment


def booking_for_page(*, reference: str) -> Booking | None:
    """A booking with everything its page shows, in a fixed number of queries."""
    return (
        Booking.objects.select_related("session__course", "session__location", "purchaser")
        .prefetch_related(
            "attendees", "discounts",
            Prefetch("payments", queryset=Payment.objects.order_by("-attempt")),
        )
        .filter(reference=reference.upper())
        .first()
    )


def booking_owes_balance(booking: Booking) -> bool:
    """Whether a balance can be owed: a paid booking (moved to a dearer date), or one on
    account waiting for its invoice to be paid."""
    return booking.status == Booking.Status.PAID or (
        booking.status == Booking.Status.PENDING and booking.on_account)


def booking_balance_due(*, booking: Booking) -> int:
    """What a paid booking still owes (after a move to a dearer date): its total minus
    what its payments brought in. Refunds are left out on purpose: every refund was money
    given back deliberately (a cheaper date, a cancelled place, a goodwill gesture), never
    a reason to ask for it again. A booking on a company's account (pending, invoiced,
    seats held) owes what its invoice asks less what has arrived: the same page pays it
    by card (apps/payments/balance.py). 0 for anything else."""
    if not booking_owes_balance(booking):
        return 0
    brought_in = sum(p.amount for p in Payment.objects.filter(booking_id=booking.pk)
                     if p.has_succeeded)
    return max(0, booking.total_amount - brought_in)
