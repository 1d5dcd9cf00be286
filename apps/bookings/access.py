"""Emailed booking links: a signed, expiring key per (booking, recipient address).

Every email about a booking links to it with a key for the person it is sent to, so the
link opens without signing in, in any browser, and shows that person what is theirs: the
purchaser the whole booking (and its actions), an attendee their own seat. The key names
the booking and the address; what it grants is worked out again on every request from
the booking as it is now, so an attendee who handed their seat to someone else (or an
address no longer on the booking) gets nothing from an old link.

A link works until `BOOKING_LINK_DAYS` after its session ends, and at least that many
days after it was sent. An expired or broken link offers to send a fresh one; a fresh
link goes only to an address that is on the booking, and the answer is the same either
way (no one learns who is on a booking by asking).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from apps.companies.models import CompanyContact
from apps.core.emails import communication_queue
from apps.core.models import Communication
from apps.users.models import normalize_email

from .models import Attendee, Booking

SALT = "booking-access-link"


@dataclass
class BookingAccess:
    """What one link grants on one booking, as the booking is now."""

    booking: Booking
    email: str
    purchaser: bool
    seats: list[Attendee] = field(default_factory=list)  # the address's own attendee rows

    @property
    def viewer(self):
        """The person whose view of the booking the link shows."""
        return self.booking.purchaser if self.purchaser else self.seats[0].user


@dataclass
class LinkProblem:
    """A link that grants nothing (now): expired, broken, or no longer for this address.
    `reference` and `email` are known when the key itself was genuine."""

    reason: str  # "expired", "invalid", "revoked"
    reference: str = ""
    email: str = ""


def booking_link_until(*, booking: Booking, now: datetime) -> datetime:
    days = timedelta(days=settings.BOOKING_LINK_DAYS)
    return max(now + days, booking.session.ends_at + days)


def booking_link_token(*, booking: Booking, email: str, now: datetime | None = None) -> str:
    now = now or timezone.now()
    until = booking_link_until(booking=booking, now=now)
    return signing.dumps({"r": booking.reference, "e": normalize_email(email),
                          "x": int(until.timestamp())}, salt=SALT, compress=True)


def booking_link(*, booking: Booking, email: str, now: datetime | None = None) -> str:
    """The absolute link to `booking` for the person at `email` (purchaser or attendee)."""
    token = booking_link_token(booking=booking, email=email, now=now)
    return settings.SITE_URL + reverse("portal:access", args=[token])


def booking_pay_link(*, booking: Booking, email: str, now: datetime | None = None) -> str:
    """The absolute link that opens the page paying what a booking on account owes, by
    card, for the person at `email` (the purchaser or a contact of the booking's company):
    the same signed key as booking_link, so it lasts as long."""
    token = booking_link_token(booking=booking, email=email, now=now)
    return settings.SITE_URL + reverse("portal:access-pay", args=[token])


def _read(token: str, now: datetime) -> dict | LinkProblem:
    try:
        payload = signing.loads(token, salt=SALT)
        reference, email, until = str(payload["r"]), str(payload["e"]), int(payload["x"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return LinkProblem(reason="invalid")
    if datetime.fromtimestamp(until, tz=UTC) <= now:
        return LinkProblem(reason="expired", reference=reference, email=email)
    return {"reference": reference, "email": email}


def access_for(*, booking: Booking, email: str) -> BookingAccess | None:
    """What the address may see of the booking now: the purchaser everything, an attendee
    their own seat (by the seat's address or their account's), anyone else nothing."""
    email = normalize_email(email)
    if normalize_email(booking.purchaser.email) == email:
        return BookingAccess(booking=booking, email=email, purchaser=True)
    seats = [a for a in booking.attendees.all()
             if email in (normalize_email(a.email), normalize_email(a.user.email))]
    if seats:
        return BookingAccess(booking=booking, email=email, purchaser=False, seats=seats)
    return None


def booking_access(*, token: str, bookings=None,
                   now: datetime | None = None) -> BookingAccess | LinkProblem:
    """Open a link: what it grants now, or why it grants nothing. `bookings`: the queryset
    to load the booking from (the page's select/prefetch)."""
    now = now or timezone.now()
    read = _read(token, now)
    if isinstance(read, LinkProblem):
        return read
    bookings = bookings if bookings is not None else Booking.objects.all()
    booking = bookings.select_related("purchaser").filter(reference=read["reference"]).first()
    access = booking and access_for(booking=booking, email=read["email"])
    if not access:
        return LinkProblem(reason="revoked", reference=read["reference"], email=read["email"])
    return access


def booking_pay_access(*, token: str, now: datetime | None = None) -> Booking | LinkProblem:
    """Open a pay link: the booking, when the key's address is its purchaser's or a
    contact's of the company it is booked for (as they are now); else why not."""
    now = now or timezone.now()
    read = _read(token, now)
    if isinstance(read, LinkProblem):
        return read
    booking = (Booking.objects.select_related("purchaser")
               .filter(reference=read["reference"]).first())
    email = read["email"]
    if booking is not None and (
            normalize_email(booking.purchaser.email) == email
            or (booking.company_id and CompanyContact.objects.filter(
                company_id=booking.company_id, user__email__iexact=email).exists())):
        return booking
    return LinkProblem(reason="revoked", reference=read["reference"], email=email)


def booking_link_resend(*, reference: str, email: str, now: datetime | None = None) -> bool:
    """Email a fresh link to `email` if it is the purchaser's or an attendee's address on
    the booking `reference`; otherwise do nothing. The caller answers the same either way
    (and rate-limits). Returns whether one was queued (for tests and logs only)."""
    now = now or timezone.now()
    booking = (Booking.objects.select_related("purchaser", "session__course")
               .prefetch_related("attendees__user")
               .filter(reference=str(reference).strip().upper()).first())
    access = booking and access_for(booking=booking, email=email)
    if not access:
        return False
    name = (booking.purchaser.first_name if access.purchaser
            else (access.seats[0].name.split() or [""])[0])
    return communication_queue(
        kind=Communication.Kind.BOOKING_LINK,
        recipient=access.email,
        template="emails/booking_link.txt",
        context={"booking": booking, "session": booking.session, "recipient_name": name,
                 "link": booking_link(booking=booking, email=access.email, now=now),
                 "until": booking_link_until(booking=booking, now=now)},
        user_id=booking.purchaser_id if access.purchaser else access.seats[0].user_id,
        booking=booking,
        dedupe_key=f"link:{booking.reference}:{now:%Y%m%d%H%M}",  # a double click: once
    ) is not None
