"""Erasing a customer's account (the portal's "Delete my account"): their upcoming bookings
are cancelled first, each with the refund the cancellation policy gives, so no seat is held
for "Deleted person" and no money is kept for a course nobody will attend; then their
personal data goes (apps.users.services.user_anonymise). Certificates stay: others rely on
verifying them, under the holder's name."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from apps.certificates.models import Certificate
from apps.refunds.cancellation import booking_cancel
from apps.refunds.models import Refund
from apps.refunds.policy import CancellationQuote, cancellation_quote
from apps.refunds.services import refundable_amount
from apps.users.models import User
from apps.users.services import user_anonymise

from .models import Booking

ERASURE_REASON = "Account erased at the customer's request"


@dataclass(frozen=True)
class UpcomingBooking:
    booking: Booking
    quote: CancellationQuote


def erasure_preview(*, user: User, now: datetime | None = None) -> dict:
    """What erasing the account would do: the upcoming bookings it cancels, each with its
    refund under the policy, and the certificates that stay."""
    now = now or timezone.now()
    bookings = (Booking.objects.filter(purchaser=user, session__starts_at__gt=now,
                                       status__in=[Booking.Status.PENDING, Booking.Status.PAID])
                .select_related("session__course", "session__location")
                .prefetch_related("payments").order_by("session__starts_at"))
    upcoming = [
        UpcomingBooking(booking=booking, quote=cancellation_quote(
            booking=booking, now=now,
            paid=sum(refundable_amount(p) for p in booking.payments.all())))
        for booking in bookings
    ]
    certificates = list(Certificate.objects.filter(user=user).select_related("course")
                        .order_by("-issued_on"))
    return {"upcoming": upcoming, "certificates": certificates}


def customer_erase(*, user: User, now: datetime | None = None) -> list[Refund]:
    """Cancel the customer's upcoming bookings with the policy's refunds (as if they had
    cancelled each one now), then erase their personal data. A booking that cannot be
    cancelled stops the erasure (DomainError) with nothing erased; cancellations done by
    then stand, as they would have from the portal."""
    now = now or timezone.now()
    refunds = []
    for item in erasure_preview(user=user, now=now)["upcoming"]:
        refunds += booking_cancel(booking_id=item.booking.pk, actor=user,
                                  reason=ERASURE_REASON, initiator=Refund.Initiator.CUSTOMER,
                                  refund_amount=item.quote.amount, now=now)
    user_anonymise(user=user, actor=user)
    return refunds
