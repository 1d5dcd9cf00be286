"""Telling people about their bookings: one mechanism for every change.

`booking_notify(change=..., bookings=...)` works out who is affected (the purchaser of
each booking and each attendee, one email per person however many of the bookings they
are in), what concerns each of them (the purchaser: the money and every seat they bought;
an attendee: their own seat), and records one email per person — sent after commit —
with a calendar entry per place they hold (a stable UID, the booking's SEQUENCE, a
DTSTAMP; METHOD:REQUEST for a confirmation or an update, METHOD:CANCEL for a
cancellation). Emails about money say what has happened according to the ledger: a
pending refund is "on its way", and `refund_notify_outcome` follows up once it succeeds or
fails.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from apps.core.emails import communication_queue
from apps.core.models import Communication

from .access import booking_link
from .calendar import CANCEL, REQUEST, entry_calendar

CONFIRMED = "confirmed"
MOVED = "moved"
SESSION_CHANGED = "session_changed"
BOOKING_CANCELLED = "booking_cancelled"
SESSION_CANCELLED = "session_cancelled"
# A seat passed to someone else: the person who had it, the person who has it now, and
# the purchaser (who did it, or was told staff did).
SEAT_GIVEN_UP = "seat_given_up"
SEAT_TAKEN_OVER = "seat_taken_over"
SUBSTITUTED = "substituted"

# change -> (kind of email, template, calendar method)
CHANGES = {
    CONFIRMED: (Communication.Kind.BOOKING_CONFIRMATION, "emails/booking_confirmation.txt",
                REQUEST),
    MOVED: (Communication.Kind.BOOKING_CHANGED, "emails/booking_changed.txt", REQUEST),
    SESSION_CHANGED: (Communication.Kind.BOOKING_CHANGED, "emails/booking_changed.txt",
                      REQUEST),
    BOOKING_CANCELLED: (Communication.Kind.BOOKING_CANCELLED, "emails/booking_cancelled.txt",
                        CANCEL),
    SESSION_CANCELLED: (Communication.Kind.SESSION_CANCELLED, "emails/session_cancelled.txt",
                        CANCEL),
    SEAT_GIVEN_UP: (Communication.Kind.BOOKING_CANCELLED, "emails/seat_given_up.txt", CANCEL),
    SEAT_TAKEN_OVER: (Communication.Kind.BOOKING_CONFIRMATION,
                      "emails/booking_confirmation.txt", REQUEST),
    SUBSTITUTED: (Communication.Kind.BOOKING_CHANGED, "emails/seat_substituted.txt", REQUEST),
}


@dataclass
class Item:
    """What one booking means to one person."""

    booking: object
    seat: object = None          # the person's own Attendee row, if they attend
    purchaser: bool = False      # they bought it: the money and every seat are theirs
    refunds: list = field(default_factory=list)

    @property
    def paid(self) -> int:
        return sum(p.amount for p in self.booking.payments.all() if p.has_succeeded)

    @property
    def kept(self) -> int:
        """Paid and not being given back: the ledger's refunds that have not failed, and
        this change's failed ones (which we still owe and say so)."""
        back = sum(r.amount for p in self.booking.payments.all() for r in p.refunds.all()
                   if r.status in r.NOT_FAILED)
        owed = sum(r.amount for r in self.refunds if r.status not in r.NOT_FAILED)
        return max(self.paid - back - owed, 0)

    @property
    def card(self):
        return next((p for p in self.booking.payments.all()
                     if p.has_succeeded and p.card_last4), None)


@dataclass
class Person:
    email: str
    name: str
    user_id: int | None
    items: list[Item] = field(default_factory=list)

    def item_for(self, booking) -> Item:
        for item in self.items:
            if item.booking.pk == booking.pk:
                return item
        item = Item(booking=booking)
        self.items.append(item)
        return item


def booking_portal_url(booking, email: str = "", *, now=None) -> str:
    """The link to a booking for the person at `email`: signed for them, it opens without
    signing in and shows what is theirs (access.py). Without an address, the portal page
    (which asks them to sign in): never hand one person's link to another."""
    if email:
        return booking_link(booking=booking, email=email, now=now)
    return settings.SITE_URL + reverse("portal:booking", args=[booking.reference])


def audience(bookings, *, guests_told=None) -> list[Person]:
    """Everyone a change to `bookings` concerns, one Person each (by account, else by
    address). `guests_told(booking)`: whether its attendees have heard of it (a pending
    booking's guests get no confirmation, so nothing about its changes either)."""
    people: dict = {}

    def person(user_id, email, name) -> Person:
        key = user_id or email.lower()
        if key not in people:
            people[key] = Person(email=email, name=name, user_id=user_id)
        return people[key]

    for booking in bookings:
        purchaser = booking.purchaser
        person(purchaser.pk, purchaser.email, purchaser.first_name).item_for(booking) \
            .purchaser = True
        if guests_told is not None and not guests_told(booking):
            attendees = [a for a in booking.attendees.all() if a.user_id == purchaser.pk]
        else:
            attendees = list(booking.attendees.all())
        for attendee in attendees:
            first_name = (attendee.name.split() or [""])[0]
            person(attendee.user_id, attendee.email, first_name).item_for(booking) \
                .seat = attendee
    return list(people.values())


def booking_notify(*, change: str, bookings, dedupe_key: str, now: datetime | None = None,
                   reason: str = "", refunds=(), previous: dict | None = None,
                   guests_told=None, extra: dict | None = None, only=None,
                   purchaser_attachments=()) -> list[Communication]:
    """Queue one email per affected person about `change` to `bookings` (call inside the
    transaction that made the change: nothing is sent unless it commits).

    `refunds`: the refund rows this change created (their status now is what the purchaser
    is told); `previous`: what the entry said before (starts_at, ends_at, location);
    `extra`: more context for the template (the money of a transfer).
    `only(person)`: tell only the people it accepts (a change that concerns a few).
    `purchaser_attachments`: more files for the purchaser's email only (an invoice).
    """
    now = now or timezone.now()
    kind, template, method = CHANGES[change]
    bookings = list(bookings)
    refunds_by_booking: dict = {}
    for refund in refunds:
        refunds_by_booking.setdefault(refund.payment.booking_id, []).append(refund)
    queued = []
    for person in audience(bookings, guests_told=guests_told):
        if only is not None and not only(person):
            continue
        for item in person.items:
            if item.purchaser:
                item.refunds = refunds_by_booking.get(item.booking.pk, [])
        first = person.items[0].booking
        attachments = [{
            "filename": f"{item.booking.reference}.ics",
            "mimetype": "text/calendar",
            "content": entry_calendar(booking=item.booking, attendee=item.seat, method=method,
                                      recipient_email=person.email,
                                      recipient_name=item.seat.name if item.seat
                                      else person.name, now=now),
        } for item in person.items]
        if any(item.purchaser for item in person.items):
            attachments += list(purchaser_attachments)
        communication = communication_queue(
            kind=kind,
            recipient=person.email,
            template=template,
            context={"change": change, "person": person, "items": person.items,
                     "recipient_name": person.name, "booking": first,
                     "session": first.session, "reason": reason, "previous": previous,
                     "link": booking_portal_url(first, person.email, now=now), **(extra or {})},
            user_id=person.user_id,
            booking=first,
            dedupe_key=dedupe_key,
            attachments=attachments,
        )
        if communication is not None:
            queued.append(communication)
    return queued


def _with_related(booking):
    return type(booking).objects.select_related(
        "session__course", "session__location", "purchaser").prefetch_related(
        "attendees", "payments__refunds").get(pk=booking.pk)


def booking_send_confirmations(booking, *, resend: str = "", extra: dict | None = None,
                               purchaser_attachments=(), loaded: bool = False) -> None:
    """One confirmation to the purchaser and one to each attendee (one for someone who is
    both), never twice; staff can `resend` (a key naming that resend, so a double click
    still sends once). A booking on account: `extra` names its invoice and the link that
    pays it by card, `purchaser_attachments` carries the invoice PDF (purchaser only).
    `loaded`: the caller's booking comes with its session's course and location, its
    purchaser, attendees, discounts and payments (with their refunds), as this
    transaction has just written them: it is not read again."""
    booking_notify(change=CONFIRMED, bookings=[booking if loaded else _with_related(booking)],
                   dedupe_key=f"{booking.reference}{resend}", extra=extra,
                   purchaser_attachments=purchaser_attachments)


def booking_notify_moved(*, booking, previous_session, now=None, refunds=(),
                         price_change: dict | None = None) -> None:
    """The booking now belongs to another session (the caller raised its sequence). Every
    seat keeps its calendar UID, so the invitation (higher SEQUENCE) moves the event from
    the old date to the new one in the recipient's calendar. `price_change` (a transfer):
    {"before", "after", "owed", "refunded"} in minor units, told to the purchaser."""
    booking_notify(change=MOVED, bookings=[_with_related(booking)], now=now,
                   dedupe_key=f"{booking.reference}:moved:{booking.calendar_sequence}",
                   previous={"starts_at": previous_session.starts_at,
                             "ends_at": previous_session.ends_at,
                             "location": previous_session.location},
                   guests_told=lambda b: b.status != b.Status.PENDING, refunds=refunds,
                   extra={"price_change": price_change,
                          "balance_link": balance_payment_link(booking)
                          if price_change and price_change.get("owed") else ""})


def booking_notify_attendee_cancelled(*, booking, attendee, refunds, now=None) -> None:
    """One place of a group booking was cancelled: its attendee gets a cancellation of
    their own calendar entry (METHOD:CANCEL, their seat's UID), the purchaser what
    happens to the money for that seat (one email if they are the same person). The
    other attendees' entries are unchanged: they are not written to."""
    now = now or timezone.now()
    booking = _with_related(booking)
    purchaser = booking.purchaser
    refunded = sum(r.amount for r in refunds)
    pending = [r for r in refunds if r.status == r.Status.PENDING]
    card = next((p for p in booking.payments.all() if p.has_succeeded and p.card_last4), None)
    recipients = [(attendee.email, attendee.user_id, (attendee.name.split() or [""])[0],
                   attendee.user_id == purchaser.pk)]
    if attendee.user_id != purchaser.pk:
        recipients.append((purchaser.email, purchaser.pk, purchaser.first_name, True))
    for email, user_id, name, is_purchaser in recipients:
        is_attendee = user_id == attendee.user_id
        attachments = [{
            "filename": f"{booking.reference}.ics", "mimetype": "text/calendar",
            "content": entry_calendar(booking=booking, attendee=attendee, method=CANCEL,
                                      recipient_email=email, recipient_name=attendee.name,
                                      now=now),
        }] if is_attendee else []
        communication_queue(
            kind=Communication.Kind.BOOKING_CANCELLED if is_attendee
            else Communication.Kind.BOOKING_CHANGED,
            recipient=email,
            template="emails/attendee_cancelled.txt",
            context={"booking": booking, "session": booking.session, "attendee": attendee,
                     "recipient_name": name, "is_purchaser": is_purchaser,
                     "is_attendee": is_attendee, "refunds": refunds, "refunded": refunded,
                     "pending": bool(pending), "card": card,
                     "link": booking_portal_url(booking)},
            user_id=user_id,
            booking=booking,
            dedupe_key=f"{booking.reference}:seat-cancelled:{attendee.pk}",
            attachments=attachments,
        )


def booking_notify_cancelled(*, booking, refunds, reason: str, was_confirmed: bool,
                             now=None) -> None:
    """One booking cancelled: its purchaser is told about the money, its attendees (if
    they had been told about it) that their seat is gone."""
    booking_notify(change=BOOKING_CANCELLED, bookings=[_with_related(booking)], now=now,
                   dedupe_key=f"{booking.reference}:cancelled", reason=reason,
                   refunds=refunds, guests_told=lambda b: was_confirmed)


def booking_notify_substituted(*, booking, attendee, before: dict, now=None) -> None:
    """A seat passed from `before` (name, email, user_id) to the attendee row's person
    now: the old person is told their seat is gone (a calendar cancellation), the new one
    gets a confirmation with the invitation, the purchaser a change notice (each once;
    the caller raised the sequence)."""
    booking = _with_related(booking)
    attendee = next(a for a in booking.attendees.all() if a.pk == attendee.pk)
    key = f"{booking.reference}:substituted:{attendee.pk}:{booking.calendar_sequence}"
    old_email = before["email"].lower()
    if old_email != booking.purchaser.email.lower():
        # The old person is on the booking no more: tell them as the seat they had.
        gone = type(attendee)(pk=attendee.pk, booking=booking, name=before["name"],
                              email=before["email"], user_id=before["user_id"])
        _notify_one(change=SEAT_GIVEN_UP, booking=booking, seat=gone, key=key, now=now,
                    link="")
    booking_notify(change=SEAT_TAKEN_OVER, bookings=[booking], dedupe_key=key, now=now,
                   only=lambda person: any(i.seat is not None and i.seat.pk == attendee.pk
                                           and not i.purchaser for i in person.items))
    booking_notify(change=SUBSTITUTED, bookings=[booking], dedupe_key=key, now=now,
                   previous={"name": before["name"], "email": before["email"],
                             "attendee": attendee},
                   only=lambda person: any(i.purchaser for i in person.items))


def _notify_one(*, change, booking, seat, key, now, link):
    """One email about one seat to its (former) holder, who may no longer be on the
    booking, so cannot be found through `audience`."""
    now = now or timezone.now()
    kind, template, method = CHANGES[change]
    first_name = (seat.name.split() or [""])[0]
    person = Person(email=seat.email, name=first_name, user_id=seat.user_id)
    person.items.append(Item(booking=booking, seat=seat))
    communication_queue(
        kind=kind, recipient=seat.email, template=template,
        context={"change": change, "person": person, "items": person.items,
                 "recipient_name": first_name, "booking": booking,
                 "session": booking.session, "link": link},
        user_id=seat.user_id, booking=booking, dedupe_key=key,
        attachments=[{
            "filename": f"{booking.reference}.ics", "mimetype": "text/calendar",
            "content": entry_calendar(booking=booking, attendee=seat, method=method,
                                      recipient_email=seat.email, recipient_name=seat.name,
                                      now=now)}])


def booking_send_late_refund(booking, payment) -> None:
    communication_queue(
        kind=Communication.Kind.LATE_PAYMENT_REFUNDED,
        recipient=booking.purchaser.email,
        template="emails/late_payment_refunded.txt",
        context={"booking": booking, "session": booking.session, "payment": payment},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=f"{booking.reference}:{payment.pk}",
    )


def refund_notify_outcome(*, refund, booking, payment) -> None:
    """The follow-up to "on its way": the refund went through, or it did not."""
    succeeded = refund.status == refund.Status.SUCCEEDED
    communication_queue(
        kind=Communication.Kind.REFUND_ISSUED if succeeded else Communication.Kind.REFUND_FAILED,
        recipient=booking.purchaser.email,
        template="emails/refund_issued.txt" if succeeded else "emails/refund_failed.txt",
        context={"booking": booking, "refund": refund, "payment": payment,
                 "link": booking_portal_url(booking, booking.purchaser.email)},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=f"refund:{refund.pk}",
    )


PAYMENT_LINK_SALT = "booking-payment-link"
PAYMENT_LINK_MAX_AGE = 7 * 24 * 3600


def payment_link(booking) -> str:
    """A link that opens the booking's payment page without signing in (signed, 7 days)."""
    key = signing.dumps(booking.reference, salt=PAYMENT_LINK_SALT)
    return f"{settings.SITE_URL}{booking.get_absolute_url()}?key={key}"


def payment_link_reference(key: str) -> str | None:
    try:
        return signing.loads(key, salt=PAYMENT_LINK_SALT, max_age=PAYMENT_LINK_MAX_AGE)
    except signing.BadSignature:
        return None


def balance_payment_path(booking) -> str:
    """The page that pays what a paid booking still owes, with a key signed like
    payment_link's: it opens for the purchaser without signing in (7 days)."""
    key = signing.dumps(booking.reference, salt=PAYMENT_LINK_SALT)
    return f"{reverse('bookings:balance', args=[booking.reference])}?key={key}"


def balance_payment_link(booking) -> str:
    """balance_payment_path as an absolute link, for emails."""
    return settings.SITE_URL + balance_payment_path(booking)


def booking_send_balance_link(booking, *, amount: int, dedupe_key: str) -> Communication | None:
    """Staff ask the purchaser to pay what the booking still owes."""
    return communication_queue(
        kind=Communication.Kind.PAYMENT_LINK,
        recipient=booking.purchaser.email,
        template="emails/balance_link.txt",
        context={"booking": booking, "session": booking.session, "amount": amount,
                 "link": balance_payment_link(booking)},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=dedupe_key,
    )


def booking_send_balance_paid(booking, payment, *, still_owed: int) -> None:
    """The receipt for a balance payment: it arrived, and what (if anything) is left."""
    communication_queue(
        kind=Communication.Kind.PAYMENT_RECEIVED,
        recipient=booking.purchaser.email,
        template="emails/balance_paid.txt",
        context={"booking": booking, "session": booking.session, "payment": payment,
                 "still_owed": still_owed,
                 "link": booking_portal_url(booking, booking.purchaser.email)},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=f"balance-paid:{payment.pk}",
    )


def booking_send_payment_link(booking) -> None:
    communication_queue(
        kind=Communication.Kind.PAYMENT_LINK,
        recipient=booking.purchaser.email,
        template="emails/payment_link.txt",
        context={"booking": booking, "session": booking.session, "link": payment_link(booking)},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=booking.reference,
    )


def waitlist_send_joined(*, entry, position: int, leave_link: str) -> None:
    """They are on the list (or their entry changed): where they stand and how to leave."""
    communication_queue(
        kind=Communication.Kind.WAITLIST_JOINED,
        recipient=entry.email,
        template="emails/waitlist_joined.txt",
        context={"entry": entry, "session": entry.session, "position": position,
                 "leave_link": leave_link, "offer_hours": settings.WAITLIST_OFFER_HOURS},
        dedupe_key=f"waitlist:{entry.pk}:{entry.joined_at.isoformat()}:{entry.seats}",
    )


def waitlist_send_offer(*, offer, claim_link: str, leave_link: str) -> None:
    """Seats are held for them until the offer expires: the link claims them."""
    communication_queue(
        kind=Communication.Kind.WAITLIST_OFFER,
        recipient=offer.entry.email,
        template="emails/waitlist_offer.txt",
        context={"offer": offer, "entry": offer.entry, "session": offer.session,
                 "claim_link": claim_link, "leave_link": leave_link},
        dedupe_key=f"waitlist-offer:{offer.pk}",
    )
