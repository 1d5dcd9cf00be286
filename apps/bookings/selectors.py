from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from .models import SEAT_HOLDING_STATUSES, UPCOMING_STATUSES, Attendee, Booking


def booking_visible_to(request, booking: Booking) -> bool:
    """The payment page is the purchaser's (signed in, in the browser session that made the
    booking, or holding a payment link) or staff's. Attendees see their seat in the
    portal. Anyone else gets a 404: a reference alone is not a key."""
    if booking.reference in request.session.get("my_bookings", []):
        return True
    user = request.user
    if not user.is_authenticated:
        return False
    if user.is_staff and user.has_perm("bookings.view_booking"):
        return True
    return user.pk == booking.purchaser_id


def remember_booking_in_session(request, booking: Booking) -> None:
    refs = request.session.get("my_bookings", [])
    if booking.reference not in refs:
        request.session["my_bookings"] = (refs + [booking.reference])[-20:]


def upcoming_bookings(bookings, *, now: datetime):
    """The bookings still ahead of the customer: pending or paid, session not yet started
    (the portal's list and the API's count)."""
    return bookings.filter(session__starts_at__gte=now, status__in=UPCOMING_STATUSES)


def booking_is_upcoming(booking: Booking, *, now: datetime) -> bool:
    """upcoming_bookings() for one booking already loaded with its session."""
    return booking.session.starts_at >= now and booking.status in UPCOMING_STATUSES

def pending_booking_for_same_people(*, session_id: int, purchaser_email: str,
                                    emails: list[str], now: datetime) -> Booking | None:
    """This purchaser's live pending booking for exactly these people on this session:
    the booking form submitted again (back button, a second tab)."""
    candidates = Booking.objects.filter(
        session_id=session_id, status=Booking.Status.PENDING, hold_expires_at__gt=now,
        purchaser__email=purchaser_email, attendees__email__in=emails,
    ).distinct().prefetch_related("attendees")
    for booking in candidates:
        if {a.email for a in booking.attendees.all()} == set(emails):
            return booking
    return None


def seats_held_on_session(*, session_id: int, emails: list[str], now: datetime):
    """The attendees among `emails` who hold a seat on this session: in a paid booking,
    or in a pending one whose hold has not lapsed."""
    return (
        Attendee.objects.filter(booking__session_id=session_id,
                                booking__status__in=SEAT_HOLDING_STATUSES)
        .filter(Q(email__in=emails) | Q(user__email__in=emails))
        .exclude(booking__status=Booking.Status.PENDING, booking__hold_expires_at__lte=now)
        .select_related("booking__purchaser", "user")
    )


@dataclass(frozen=True)
class BookingPrice:
    """How a booking's total came about, for pages, emails and receipts."""

    seats: int
    unit_price: int
    list_amount: int
    discount_lines: list[tuple[str, int]]  # (label, amount)
    total: int
    currency: str


def booking_price(booking: Booking) -> BookingPrice:
    """The booking's list price, its discounts and its total. The discounts are those given
    when it was booked; after a change (a place cancelled, another date) they no longer
    add up line by line, so they are shown as one line: what the booking keeps off its
    list price now."""
    lines = [(d.label, d.amount) for d in booking.discounts.all()]
    off = booking.list_amount - booking.total_amount
    if sum(amount for _, amount in lines) != off:
        lines = [("Discounts as agreed when booked", off)] if off > 0 else []
    return BookingPrice(seats=booking.seats, unit_price=booking.unit_price,
                        list_amount=booking.list_amount, discount_lines=lines,
                        total=booking.total_amount, currency=booking.currency)
