from datetime import datetime

from django.db.models import Prefetch, Q

from apps.payments.models import Payment

from .models import SEAT_HOLDING_STATUSES, UPCOMING_STATUSES, Attendee, Booking


def booking_for_page(*, reference: str) -> Booking | None:
    """A booking with everything its page shows, in a fixed number of queries."""
    return (
        Booking.objects.select_related("session__course", "session__location", "purchaser")
        .prefetch_related(
            "attendees",
            Prefetch("payments", queryset=Payment.objects.order_by("-attempt")),
        )
        .filter(reference=reference.upper())
        .first()
    )


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


def customer_bookings(*, user):
    """Bookings a customer bought, and their own seats in other people's bookings: the
    portal, the customer API and every customer-facing list use this one rule. A seat is
    the attendee's once the booking was paid (`paid_at`); someone else's unpaid booking
    (pending, or expired/cancelled before payment) is the purchaser's business only."""
    return _with_customer_rows(Booking.objects.filter(
        Q(purchaser=user) | Q(attendees__user=user, paid_at__isnull=False)))


def _with_customer_rows(bookings):
    from apps.refunds.models import Refund

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


def upcoming_bookings(bookings, *, now: datetime):
    """The bookings still ahead of the customer: pending or paid, session not yet started
    (the portal's list and the API's count)."""
    return bookings.filter(session__starts_at__gte=now, status__in=UPCOMING_STATUSES)


def booking_is_upcoming(booking: Booking, *, now: datetime) -> bool:
    """upcoming_bookings() for one booking already loaded with its session."""
    return booking.session.starts_at >= now and booking.status in UPCOMING_STATUSES


def customer_booking(*, user, reference: str) -> Booking | None:
    """One of the customer's bookings by reference; None (a 404) for anyone else's."""
    return customer_bookings(user=user).filter(reference=reference.upper()).first()


def customer_view_of_booking(*, booking: Booking, user) -> dict:
    """What this customer may see of a booking (portal and API alike): the purchaser
    everything, an attendee their own seat and no payments, totals or seat count beyond
    their own. Works on the rows prefetched by customer_bookings()."""
    from apps.refunds.models import Refund

    own = booking.purchaser_id == user.pk
    attendees = [a for a in booking.attendees.all() if own or a.user_id == user.pk]
    payments = list(booking.payments.all()) if own else []
    paid = sum(p.amount for p in payments if p.has_succeeded)
    refunded = sum(r.amount for p in payments for r in p.refunds.all()
                   if r.status == Refund.Status.SUCCEEDED)
    # Only a pending booking whose hold still stands has anything to pay: an expired or
    # cancelled one owes nothing.
    from django.utils import timezone

    holding = (booking.status == Booking.Status.PENDING and booking.hold_expires_at is not None
               and booking.hold_expires_at > timezone.now())
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
