"""The waiting list of a sold-out session: joining, offers of freed seats, claims, expiry.

Rules (docs/waitlist.md):
- Entries are served first come, first served (`joined_at`, then id). An entry wanting
  more seats than are free is skipped for now and keeps its place; the free seats go to
  the next entries that fit. Offers are never partial.
- An offer RESERVES its seats: they are added to the session's `seats_taken` with the
  same conditional UPDATE as a booking, so nobody else can take them and nothing
  oversells. At every commit: seats_taken == seats of seat-holding bookings + seats of
  live offers.
- Claiming (booking_create with `waitlist_offer_id`) turns the reservation into a pending
  booking's seats in one transaction; an unclaimed offer expires after
  WAITLIST_OFFER_HOURS, its seats go straight to the next entries that fit.

Locks, always in this order: the session row (FOR NO KEY UPDATE), then entries, then
offers. A claim locks only its offer (a booking insert's FOR KEY SHARE on the session
does not conflict with NO KEY UPDATE), so claims and expiries cannot deadlock, and every
offer-making on a session is serialised by the session lock.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from apps.core.errors import ConflictError, DomainError
from apps.sessions.catalogue_cache import catalogue_changed
from apps.sessions.models import CourseSession
from apps.users.audit import log_action
from apps.users.models import normalize_email

from .models import COUNTED_STATUSES, Booking, WaitingListEntry, WaitingListOffer
from .notifications import waitlist_send_joined, waitlist_send_offer

Entry = WaitingListEntry
Offer = WaitingListOffer

OFFER_SALT = "bookings.waitlist.offer"
LEAVE_SALT = "bookings.waitlist.leave"
# An offer link keeps saying what became of the offer for a week after the offer ends;
# then it is simply invalid.
OFFER_LINK_GRACE = timedelta(days=7)
LEAVE_LINK_MAX_AGE = timedelta(days=366)
ACTIVE = (Entry.Status.WAITING, Entry.Status.OFFERED)


# --- links -----------------------------------------------------------------------------


def waitlist_offer_link(offer: Offer) -> str:
    token = signing.dumps({"offer": offer.pk}, salt=OFFER_SALT, compress=True)
    return settings.SITE_URL + reverse("waitlist:offer", args=[token])


def waitlist_leave_link(entry: Entry) -> str:
    token = signing.dumps({"entry": entry.pk}, salt=LEAVE_SALT, compress=True)
    return settings.SITE_URL + reverse("waitlist:leave", args=[token])


def waitlist_offer_from_token(token: str) -> Offer | None:
    """The offer a link names, while the link is valid (the offer's life plus a week)."""
    max_age = timedelta(hours=settings.WAITLIST_OFFER_HOURS) + OFFER_LINK_GRACE
    try:
        offer_id = signing.loads(token, salt=OFFER_SALT, max_age=max_age)["offer"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    return Offer.objects.select_related(
        "entry", "session__course", "session__location", "booking").filter(pk=offer_id).first()


def waitlist_entry_from_token(token: str) -> Entry | None:
    try:
        entry_id = signing.loads(token, salt=LEAVE_SALT, max_age=LEAVE_LINK_MAX_AGE)["entry"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    return Entry.objects.select_related("session__course", "session__location").filter(
        pk=entry_id).first()


# --- selectors ---------------------------------------------------------------------------


def waitlist_session_open(session: CourseSession, *, seats: int = 1,
                          now: datetime | None = None) -> bool:
    """Whether the list takes people wanting `seats`: a scheduled session that has not
    started and has fewer than `seats` free (otherwise they can simply book)."""
    now = now or timezone.now()
    return (session.status == CourseSession.Status.SCHEDULED and session.starts_at > now
            and session.seats_left < seats)


def waitlist_position(entry: Entry) -> int | None:
    """1 for the next in line; None when the entry is not waiting."""
    if entry.status != Entry.Status.WAITING:
        return None
    ahead = Entry.objects.filter(session_id=entry.session_id, status=Entry.Status.WAITING).filter(
        Q(joined_at__lt=entry.joined_at) | Q(joined_at=entry.joined_at, pk__lt=entry.pk))
    return ahead.count() + 1


def waitlist_conversion(*, since: datetime, until: datetime) -> dict:
    """Offers sent in [since, until) and how many of them became paid bookings (one
    query): {"offers", "booked", "rate"}; rate is None when no offer was sent."""
    counts = Offer.objects.filter(created_at__gte=since, created_at__lt=until).aggregate(
        offers=Count("pk"),
        booked=Count("pk", filter=Q(status=Offer.Status.CLAIMED,
                                    booking__status__in=COUNTED_STATUSES)))
    offers, booked = counts["offers"], counts["booked"]
    return {"offers": offers, "booked": booked, "rate": booked / offers if offers else None}


# --- joining -----------------------------------------------------------------------------


def waitlist_join(*, session_id: int, name: str, email: str, seats: int,
                  now: datetime | None = None) -> Entry:
    """Put someone on a sold-out session's list, or update their entry (same address):
    a waiting entry keeps its place; one that had left, lapsed or booked rejoins at the
    back. Sends the confirmation (with the leave link) when the entry is new or changed."""
    now = now or timezone.now()
    email = normalize_email(email)
    name = name.strip()
    if not name or not email:
        raise DomainError("Your name and email are required.")
    session = CourseSession.objects.filter(pk=session_id).first()
    if session is None:
        raise DomainError("That session does not exist.", code="not_found", status=404)
    if not 1 <= seats <= session.capacity:
        raise DomainError(f"Ask for between 1 and {session.capacity} seats.")
    if session.status != CourseSession.Status.SCHEDULED or session.starts_at <= now:
        raise ConflictError("This session is no longer open for booking.",
                            code="session_closed")
    for attempt in range(2):
        try:
            with transaction.atomic():
                entry = Entry.objects.select_for_update().filter(
                    session_id=session_id, email=email).first()
                if entry is None or entry.status not in ACTIVE:
                    if not waitlist_session_open(session, seats=seats, now=now):
                        left = session.seats_left
                        raise ConflictError(
                            f"{left} seat{'s are' if left != 1 else ' is'} free: you can "
                            "book now instead of waiting.", code="seats_free")
                return _join_locked(entry, session=session, name=name, email=email,
                                    seats=seats, now=now)
        except IntegrityError:
            if attempt:
                raise  # the same address joined at the same moment twice: it is there now
    raise AssertionError("unreachable")


def _join_locked(entry, *, session, name, email, seats, now) -> Entry:
    if entry is None:
        entry = Entry.objects.create(session=session, name=name, email=email, seats=seats,
                                     consent_at=now, joined_at=now)
        action = "waitlist.joined"
    elif entry.status in ACTIVE:
        # Their place is kept; the seats of a live offer are fixed until it ends.
        if entry.status == Entry.Status.WAITING:
            entry.seats = seats
        entry.name, entry.consent_at = name, now
        entry.save(update_fields=["name", "seats", "consent_at", "updated_at"])
        action = "waitlist.updated"
    else:
        entry.name, entry.seats, entry.consent_at, entry.joined_at = name, seats, now, now
        entry.status = Entry.Status.WAITING
        entry.save(update_fields=["name", "seats", "consent_at", "joined_at", "status",
                                  "updated_at"])
        action = "waitlist.joined"
    log_action(action, target=entry, data={"session": session.pk, "seats": entry.seats})
    entry.session = session
    waitlist_send_joined(entry=entry, position=waitlist_position(entry) or 0,
                         leave_link=waitlist_leave_link(entry))
    return entry


# --- offers --------------------------------------------------------------------------------


def _lock_session(session_id: int) -> CourseSession:
    return CourseSession.objects.select_for_update(no_key=True).get(pk=session_id)


def _reserve_seats(*, session_id: int, seats: int) -> bool:
    """The conditional UPDATE of bookings.services._take_seats: capacity checked in the
    UPDATE itself, against the committed value."""
    return bool(CourseSession.objects.filter(
        pk=session_id, seats_taken__lte=F("capacity") - seats,
    ).update(seats_taken=F("seats_taken") + seats))


def _release_reserved(*, session_id: int, seats: int) -> None:
    CourseSession.objects.filter(pk=session_id).update(seats_taken=F("seats_taken") - seats)


def _offer_locked(entry: Entry, *, session: CourseSession, now, actor=None) -> Offer | None:
    """Reserve the entry's seats and send the offer (session and entry locked)."""
    if not _reserve_seats(session_id=session.pk, seats=entry.seats):
        return None
    session.seats_taken += entry.seats
    offer = Offer.objects.create(
        entry=entry, session=session, seats=entry.seats, created_at=now,
        expires_at=now + timedelta(hours=settings.WAITLIST_OFFER_HOURS))
    entry.status = Entry.Status.OFFERED
    entry.save(update_fields=["status", "updated_at"])
    log_action("waitlist.offered", actor=actor, target=entry,
               data={"offer": offer.pk, "session": session.pk, "seats": offer.seats,
                     "expires_at": offer.expires_at.isoformat()})
    offer.entry, offer.session = entry, session
    waitlist_send_offer(offer=offer, claim_link=waitlist_offer_link(offer),
                        leave_link=waitlist_leave_link(entry))
    return offer


def _offer_free_seats_locked(session: CourseSession, *, now) -> list[Offer]:
    if session.status != CourseSession.Status.SCHEDULED or session.starts_at <= now:
        return []
    offers = []
    free = session.capacity - session.seats_taken
    if free <= 0:
        return offers
    waiting = Entry.objects.select_for_update().filter(
        session_id=session.pk, status=Entry.Status.WAITING, seats__lte=free,
    ).order_by("joined_at", "pk")
    for entry in waiting:
        if entry.seats > free:
            continue  # skipped for now, keeps its place
        offer = _offer_locked(entry, session=session, now=now)
        if offer is None:
            break
        offers.append(offer)
        free -= entry.seats
        if free == 0:
            break
    return offers


def waitlist_offer_free_seats(*, session_id: int, now: datetime | None = None) -> list[Offer]:
    """Offer the session's free seats to its waiting entries, first come first served."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _lock_session(session_id)
        offers = _offer_free_seats_locked(session, now=now)
    if offers:
        catalogue_changed()
    return offers


def waitlist_offer_entry(*, entry_id: int, actor=None, now: datetime | None = None) -> Offer:
    """Staff's "offer now": this entry, out of turn, if its seats are free."""
    now = now or timezone.now()
    session_id = Entry.objects.values_list("session_id", flat=True).get(pk=entry_id)
    with transaction.atomic():
        session = _lock_session(session_id)
        entry = Entry.objects.select_for_update().get(pk=entry_id)
        if entry.status != Entry.Status.WAITING:
            raise ConflictError(f"{entry.email} is not waiting ({entry.get_status_display()}).")
        if session.status != CourseSession.Status.SCHEDULED or session.starts_at <= now:
            raise ConflictError("The session is cancelled or has started.")
        offer = _offer_locked(entry, session=session, now=now, actor=actor)
        if offer is None:
            left = session.seats_left
            raise ConflictError(f"Only {left} seat{'s are' if left != 1 else ' is'} free: "
                                f"{entry.email} wants {entry.seats}.", code="sold_out")
    catalogue_changed()
    return offer


def waitlist_seats_freed(*, session_id: int) -> None:
    """Seats came free on a session (a cancellation, a lapsed hold, a move, more capacity):
    offer them to its list. Call after commit (`transaction.on_commit`); it only enqueues
    the task, and only when someone is waiting."""
    if not Entry.objects.filter(session_id=session_id, status=Entry.Status.WAITING).exists():
        return
    from .tasks import waitlist_offer_task  # tasks.py imports this module: load on use

    waitlist_offer_task.delay(session_id)


# --- claims ------------------------------------------------------------------------------


def waitlist_offer_lock_for_claim(*, offer_id: int, session: CourseSession, seats: int,
                                  now: datetime) -> Offer:
    """Inside booking_create's transaction: lock the offer and check it can become this
    booking (live, not past its time, same session and seats)."""
    offer = Offer.objects.select_for_update().filter(pk=offer_id).first()
    if offer is None or offer.session_id != session.pk:
        raise DomainError("That waiting-list offer does not exist.", code="not_found",
                          status=404)
    if offer.status != Offer.Status.LIVE or offer.expires_at <= now:
        raise ConflictError(offer_closed_message(offer, now=now), code="offer_closed")
    if seats != offer.seats:
        raise DomainError(f"This offer is for {offer.seats} seat{'s' if offer.seats != 1 else ''}.")
    if session.status != CourseSession.Status.SCHEDULED or session.starts_at <= now:
        raise ConflictError("This session is no longer open for booking.",
                            code="session_closed")
    return offer


def waitlist_offer_mark_claimed(*, offer: Offer, booking: Booking, actor=None,
                                now: datetime) -> None:
    """The offer's reserved seats are now the booking's (seats_taken is unchanged)."""
    offer.status, offer.booking, offer.closed_at = Offer.Status.CLAIMED, booking, now
    offer.save(update_fields=["status", "booking", "closed_at"])
    Entry.objects.filter(pk=offer.entry_id).update(status=Entry.Status.BOOKED, updated_at=now)
    log_action("waitlist.claimed", actor=actor, target=offer.entry,
               data={"offer": offer.pk, "booking": booking.reference, "seats": offer.seats})


def offer_closed_message(offer: Offer, *, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if offer.status == Offer.Status.CLAIMED:
        return "This offer has already been claimed: the seats are booked."
    if offer.status == Offer.Status.WITHDRAWN:
        return "This offer was withdrawn: you are no longer on the waiting list."
    return ("This offer has expired: the seats were held until "
            f"{date_format(timezone.localtime(offer.expires_at), 'j M Y, H:i')} and have gone "
            "to the "
            "next person on the list.")


# --- expiry, leaving, removal --------------------------------------------------------------


def waitlist_offer_expire(*, offer_id: int, now: datetime | None = None) -> bool:
    """Expire one unclaimed offer past its time: its seats go to the next entries that fit
    (in the same transaction, so nobody else can take them meanwhile). False if a claim
    or another expiry got there first."""
    now = now or timezone.now()
    session_id = Offer.objects.values_list("session_id", flat=True).filter(pk=offer_id).first()
    if session_id is None:
        return False
    with transaction.atomic():
        session = _lock_session(session_id)
        offer = Offer.objects.select_for_update().filter(
            pk=offer_id, status=Offer.Status.LIVE, expires_at__lte=now).first()
        if offer is None:
            return False
        _close_offer(offer, status=Offer.Status.EXPIRED, session=session, now=now)
        Entry.objects.filter(pk=offer.entry_id).update(status=Entry.Status.LAPSED,
                                                       updated_at=now)
        log_action("waitlist.expired", target=offer.entry,
                   data={"offer": offer.pk, "seats": offer.seats})
        _offer_free_seats_locked(session, now=now)
    catalogue_changed()
    return True


def waitlist_expire_offers(*, now: datetime | None = None) -> list[int]:
    """Expire every lapsed offer, one short transaction each (beat, every minute)."""
    now = now or timezone.now()
    lapsed = list(Offer.objects.filter(status=Offer.Status.LIVE, expires_at__lte=now)
                  .order_by("expires_at", "pk").values_list("pk", flat=True))
    return [pk for pk in lapsed if waitlist_offer_expire(offer_id=pk, now=now)]


def _close_offer(offer: Offer, *, status: str, session: CourseSession, now) -> None:
    offer.status, offer.closed_at = status, now
    offer.save(update_fields=["status", "closed_at"])
    _release_reserved(session_id=session.pk, seats=offer.seats)
    session.seats_taken -= offer.seats


def waitlist_entry_leave(*, entry_id: int, actor=None, by_staff: bool = False,
                         now: datetime | None = None) -> bool:
    """Take someone off the list (their leave link, or staff's "remove"): a live offer is
    withdrawn and its seats offered to the next in line. False if already off the list."""
    now = now or timezone.now()
    session_id = Entry.objects.values_list("session_id", flat=True).filter(pk=entry_id).first()
    if session_id is None:
        return False
    with transaction.atomic():
        session = _lock_session(session_id)
        entry = Entry.objects.select_for_update().get(pk=entry_id)
        if entry.status not in ACTIVE:
            return False
        withdrawn = None
        if entry.status == Entry.Status.OFFERED:
            withdrawn = Offer.objects.select_for_update().filter(
                entry=entry, status=Offer.Status.LIVE).first()
            if withdrawn is not None:
                _close_offer(withdrawn, status=Offer.Status.WITHDRAWN, session=session,
                             now=now)
        entry.status = Entry.Status.REMOVED if by_staff else Entry.Status.LEFT
        entry.save(update_fields=["status", "updated_at"])
        log_action("waitlist.removed" if by_staff else "waitlist.left", actor=actor,
                   target=entry, data={"withdrawn_offer": withdrawn.pk if withdrawn else None})
        if withdrawn is not None:
            _offer_free_seats_locked(session, now=now)
    catalogue_changed()
    return True
