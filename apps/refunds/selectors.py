"""What a customer may see of bookings, with their payments and refunds: the portal, the
customer API and the data export read through these."""

from django.db.models import Prefetch, Q
from django.utils import timezone

from apps.bookings.models import Booking
from apps.payments.models import Payment

from .models import Refund


def customer_bookings(*, user):
    """Bookings a customer bought, and their own seats in other people's bookings: the
    portal, the customer API and every customer-facing list use this one rule. A seat is
    the attendee's once the booking was paid (`paid_at`); someone else's unpaid booking
    (pending, or expired/cancelled before payment) is the purchaser's business only."""
    return _with_customer_rows(Booking.objects.filter(
        Q(purchaser=user) | Q(attendees__user=user, attendees__cancelled_at__isnull=True,
          paid_at__isnull=False)))


def _with_customer_rows(bookings):
    return (
        bookings.distinct()
        .select_related("session__course", "session__location")
        .prefetch_related(
            "attendees",
            Prefetch("payments", queryset=Payment.objects.order_by("attempt").prefetch_related(
                Prefetch("refunds", queryset=Refund.objects.order_by("created_at")),
                "disputes")),
        )
        .order_by("session__starts_at", "session_id", "created_at", "pk")  # a total order
    )


def bookings_for_customer_pages():
    """Bookings with the rows customer pages show (an emailed link's page, where the link,
    not a signed-in user, says whose view it is)."""
    return _with_customer_rows(Booking.objects.all())


def customer_booking(*, user, reference: str) -> Booking | None:
    """One of the customer's bookings by reference; None (a 404) for anyone else's."""
    return customer_bookings(user=user).filter(reference=reference.upper()).first()


def customer_view_of_booking(*, booking: Booking, user) -> dict:
    """What this customer may see of a booking (portal and API alike): the purchaser
    everything, an attendee their own seat and no payments, totals or seat count beyond
    their own. Works on the rows prefetched by customer_bookings()."""
    own = booking.purchaser_id == user.pk
    attendees = [a for a in booking.attendees.all() if own or a.user_id == user.pk]
    payments = list(booking.payments.all()) if own else []
    paid = sum(p.amount for p in payments if p.has_succeeded)
    refunded = sum(r.amount for p in payments for r in p.refunds.all()
                   if r.status == Refund.Status.SUCCEEDED)
    # Only a pending booking whose hold still stands has anything to pay: an expired or
    # cancelled one owes nothing.
    holding = booking.status == Booking.Status.PENDING and (
        booking.on_account  # confirmed, held until paid
        or (booking.hold_expires_at is not None and booking.hold_expires_at > timezone.now()))
    due = max(0, booking.total_amount - paid) if own and holding else 0
    return {"booking": booking, "is_purchaser": own, "attendees": attendees,
            "payments": payments, "paid": paid, "refunded": refunded, "due": due,
            "role": "purchaser" if own else "attendee",
            "seats": booking.seats if own else 1,
            "total_amount": booking.total_amount if own else None}


def bookings_naming_person(*, user):
    """Every booking that names this person, as purchaser or attendee, whatever its
    status: what we hold about them (data export, staff views), not what they may see."""
    return _with_customer_rows(
        Booking.objects.filter(Q(purchaser=user) | Q(attendees__user=user)))
