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
