"""Booking writes. Every entry point (pages, admin, API, tasks, commands) calls these."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.errors import ConflictError, DomainError
from apps.legal.models import LegalDocument
from apps.legal.selectors import legal_document_current
from apps.pricing.quotes import PriceQuote, price_quote, split_evenly
from apps.pricing.services import (
    discount_code_redeem,
    discount_code_release,
    discount_code_retake,
)
from apps.sessions.catalogue_cache import catalogue_changed
from apps.sessions.models import CourseSession
from apps.users.audit import log_action
from apps.users.models import User, normalize_email
from apps.users.selectors import users_for_emails
from apps.users.services import customers_create, user_fill_blanks

from .models import (
    COUNTED_STATUSES,
    SEAT_HOLDING_STATUSES,
    Attendee,
    Booking,
    BookingDiscount,
    check_transition,
)
from .notifications import booking_notify_moved, booking_send_confirmations
from .selectors import pending_booking_for_same_people, seats_held_on_session
from .waitlist import (
    waitlist_offer_lock_for_claim,
    waitlist_offer_mark_claimed,
    waitlist_seats_freed,
)

NAME_PART_MAX = User._meta.get_field("first_name").max_length
EMAIL_MAX = User._meta.get_field("email").max_length


class SoldOutError(ConflictError):
    code = "sold_out"


class AlreadyBookedError(ConflictError):
    code = "already_booked"


@dataclass(frozen=True)
class AttendeeInput:
    name: str
    email: str


@dataclass(frozen=True)
class BookingRequest:
    session_id: int
    purchaser_email: str
    purchaser_first_name: str
    purchaser_last_name: str
    attendees: list[AttendeeInput]
    company_name: str = ""
    special_requirements: str = ""
    submission_token: uuid.UUID | None = None
    purchaser_phone: str = ""
    # The customer ticked "I accept the terms and the cancellation policy" (the booking
    # form); staff bookings made for a customer leave it False.
    terms_accepted: bool = False
    # A discount code typed on the form (any case; "" for none): one per booking.
    discount_code: str = ""


def _split_name(name: str) -> tuple[str, str]:
    """An attendee's full name (kept whole on the attendee, up to 200 characters) as the
    first and last name of their account, cut to what those columns hold."""
    first, _, last = name.strip().partition(" ")
    return first[:NAME_PART_MAX], last.strip()[:NAME_PART_MAX]


def booking_validate_request(request: BookingRequest) -> None:
    """Rules that need no database: raise DomainError with a message for the form."""
    seats = len(request.attendees)
    if seats < 1:
        raise DomainError("Book at least one seat.")
    if seats > settings.BOOKING_MAX_SEATS:
        raise DomainError(
            f"At most {settings.BOOKING_MAX_SEATS} seats can be booked at once; "
            "call us for larger groups."
        )
    emails = [normalize_email(a.email) for a in request.attendees]
    duplicates = sorted({e for e in emails if emails.count(e) > 1})
    if duplicates:
        repeated = ", ".join(duplicates)
        raise DomainError(f"Each attendee needs their own email; repeated: {repeated}.")
    if not normalize_email(request.purchaser_email):
        raise DomainError("Your email address is required.")
    if any(len(e) > EMAIL_MAX for e in [normalize_email(request.purchaser_email), *emails]):
        raise DomainError(f"An email address can be at most {EMAIL_MAX} characters long.")


def _take_seats(*, session_id: int, seats: int, now: datetime) -> None:
    """Take seats with one conditional UPDATE: the row is locked by the UPDATE itself and
    the capacity is checked against the committed value, never a cache or earlier read."""
    catalogue_changed()  # after the commit: no Redis call while the row is locked
    taken = CourseSession.objects.filter(
        pk=session_id,
        status=CourseSession.Status.SCHEDULED,
        starts_at__gt=now,
        seats_taken__lte=F("capacity") - seats,
    ).update(seats_taken=F("seats_taken") + seats)
    if taken:
        return
    _refuse_seats(CourseSession.objects.filter(pk=session_id).first(), seats=seats, now=now)


def _can_take(session: CourseSession, *, seats: int, now: datetime) -> bool:
    return (session.status == CourseSession.Status.SCHEDULED and session.starts_at > now
            and session.seats_left >= seats)


def _refuse_seats(session: CourseSession | None, *, seats: int, now: datetime) -> None:
    """Raise the error that says why these seats cannot be had."""
    if session is None:
        raise DomainError("That session does not exist.", code="not_found", status=404)
    if session.status == CourseSession.Status.CANCELLED:
        raise ConflictError("This session has been cancelled.", code="session_cancelled")
    if session.starts_at <= now:
        raise ConflictError("This session has already started.", code="session_started")
    left = session.seats_left
    if left == 0:
        raise SoldOutError("Sorry, this session is sold out.")
    raise SoldOutError(
        f"Only {left} seat{'s' if left != 1 else ''} left: you asked for {seats}."
    )


def _release_seats(*, session_id: int, seats: int) -> None:
    catalogue_changed()
    CourseSession.objects.filter(pk=session_id).update(seats_taken=F("seats_taken") - seats)


def _lock_people_on_session(*, session_id: int, emails: list[str]) -> None:
    """Serialise bookings naming the same person on the same session until commit, so
    the "already holds a seat" check below cannot be raced. Taken first in the
    transaction, in email order, so two bookings sharing people cannot deadlock. (SQLite,
    for `make run`, serialises every write anyway.)"""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for email in sorted(set(emails)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                           [f"bookings.seat:{session_id}:{email}"])


def _booking_already_made(*, request: BookingRequest, now: datetime) -> Booking | None:
    """This purchaser's pending booking for exactly these people on this session (the
    form submitted again): returned instead of holding the seats twice. Raises if any of
    these people holds a seat on the session otherwise (paid, or someone else's hold)."""
    emails = [normalize_email(a.email) for a in request.attendees]
    holding = seats_held_on_session(session_id=request.session_id, emails=emails, now=now)
    # Nearly always nobody: asked first without the related rows, whose columns cost more
    # to build into the query than the query costs to run.
    if not holding.exists():
        return None
    holders = list(holding)
    if same := pending_booking_for_same_people(
            session_id=request.session_id, emails=emails, now=now,
            purchaser_email=normalize_email(request.purchaser_email)):
        return same
    held = {a.email for a in holders} | {a.user.email for a in holders}
    names = [f"{a.name.strip()} ({normalize_email(a.email)})" for a in request.attendees
             if normalize_email(a.email) in held]
    if len(names) == 1:
        raise AlreadyBookedError(f"{names[0]} already has a seat on this session.")
    raise AlreadyBookedError(f"{', '.join(names[:-1])} and {names[-1]} already have seats "
                             "on this session.")


def booking_create(*, request: BookingRequest, actor: User | None = None,
                   now: datetime | None = None, waitlist_offer_id: int | None = None,
                   token_unused: bool = False, session: CourseSession | None = None
                   ) -> Booking:
    """Create a pending booking holding its seats for the hold period.

    People we already know are looked up first (filling blank profile fields in short
    transactions of their own, so no user row is locked while the session row is); new
    people are created in the booking's transaction, so a refused booking (sold out, a
    race lost) leaves nobody behind. The seats are taken last, just before the commit.
    A repeated submission token returns the booking the first submission created; the
    same purchaser booking the same people on the same session again gets their pending
    booking back (compare its `submission_token` to tell); anyone holding a seat on the
    session already is refused with AlreadyBookedError.

    `waitlist_offer_id`: the seats are those a live waiting-list offer reserved (already
    in `seats_taken`): the offer is locked and claimed in this transaction instead of
    taking seats again (apps.bookings.waitlist).
    `token_unused`: the caller knows that no booking has `request.submission_token` and
    that no other request can use it meanwhile (a fresh uuid4, or an Idempotency-Key
    checked under its row lock), so it is not looked up (the unique index still decides).
    `session`: `request.session_id`'s session (with its course and location) as the caller
    has just read it in this request, instead of reading it again: only the unlocked early
    checks and the price use it; the seat UPDATE checks the committed row.
    """
    now = now or timezone.now()
    booking_validate_request(request)
    token = request.submission_token
    if token and not token_unused and (
            existing := Booking.objects.filter(submission_token=token).first()):
        return existing

    people = [(normalize_email(request.purchaser_email), {
        "first_name": request.purchaser_first_name, "last_name": request.purchaser_last_name,
        "company_name": request.company_name, "phone": request.purchaser_phone})]
    for attendee in request.attendees:
        a_first, a_last = _split_name(attendee.name)
        people.append((normalize_email(attendee.email),
                       {"first_name": a_first, "last_name": a_last}))
    for attempt in (1, 2):
        try:
            return _booking_write(request=request, people=people, actor=actor, now=now,
                                  waitlist_offer_id=waitlist_offer_id,
                                  token_unused=token_unused, session=session)
        except IntegrityError:
            # The same form was submitted twice at once (the rollback gave the seats back),
            # or a new person's address was taken by another booking meanwhile: once more,
            # and they are known.
            if token and (existing := Booking.objects.filter(submission_token=token).first()):
                return existing
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _booking_write(*, request: BookingRequest, people: list[tuple[str, dict]], actor,
                   now: datetime, waitlist_offer_id: int | None, token_unused: bool,
                   session: CourseSession | None) -> Booking:
    known = users_for_emails(emails=[email for email, _ in people])
    users = {}
    for email, profile in people:
        if email in known:
            users[email] = user_fill_blanks(user=known[email], **profile)

    seats = len(request.attendees)
    terms = (legal_document_current(kind=LegalDocument.Kind.TERMS, now=now)
             if request.terms_accepted else None)
    with transaction.atomic():
        _lock_people_on_session(session_id=request.session_id,
                                emails=[normalize_email(a.email) for a in request.attendees])
        if request.submission_token and not token_unused and (same := Booking.objects.filter(
                submission_token=request.submission_token).first()):
            return same  # the same submission finished while this one waited
        if earlier := _booking_already_made(request=request, now=now):
            return earlier
        if session is None or session.pk != request.session_id:
            # Course and location too: the invoice and the confirmation name them.
            session = CourseSession.objects.select_related("course", "location").filter(
                pk=request.session_id).first()
        if session is None:
            raise DomainError("That session does not exist.", code="not_found", status=404)
        offer = None
        if waitlist_offer_id is not None:
            offer = waitlist_offer_lock_for_claim(offer_id=waitlist_offer_id,
                                                  session=session, seats=seats, now=now)
        elif not _can_take(session, seats=seats, now=now):
            # An unlocked read, only to refuse early without writing anything; the
            # seat UPDATE below is what decides.
            _refuse_seats(session, seats=seats, now=now)
        # Before anything is written: a code that cannot be used refuses the booking.
        quote = price_quote(session=session, seats=seats, now=now,
                            code_text=request.discount_code)
        new_people = [p for p in people if p[0] not in known]
        if new_people:
            users.update(customers_create(people=new_people))
        purchaser = users[people[0][0]]
        attendee_users = [(attendee, users[normalize_email(attendee.email)])
                          for attendee in request.attendees]
        booking = Booking.objects.create(
            purchaser=purchaser,
            session=session,
            seats=seats,
            unit_price=quote.unit_price,
            list_amount=quote.list_amount,
            total_amount=quote.total,
            currency=quote.currency,
            company_name=request.company_name,
            special_requirements=request.special_requirements.strip(),
            hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
            submission_token=request.submission_token,
            terms_document=terms,
            terms_accepted_at=now if request.terms_accepted else None,
        )
        # Kept on the booking for callers answering from the rows just written.
        booking.created_attendees = Attendee.objects.bulk_create(
            Attendee(booking=booking, user=user, name=a.name.strip(),
                     email=normalize_email(a.email))
            for a, user in attendee_users
        )
        _record_discounts(booking=booking, quote=quote, session=session, now=now)
        priced = {"list_price": quote.list_amount, "discount": quote.discount_total,
                  "code": getattr(quote.code_discount, "code", "")
                  } if quote.discounts else {}
        log_action("booking.created", actor=actor, target=booking, user=purchaser,
                   data={"session": session.pk, "seats": seats, **priced,
                         "total": booking.total_amount})
        # The seats last: the session row stays locked only from this UPDATE to the
        # commit, so bookings of a popular session queue on it as briefly as possible.
        # Sold out raises here and the rollback removes the rows written above.
        if offer is not None:
            waitlist_offer_mark_claimed(offer=offer, booking=booking, actor=actor, now=now)
        else:
            _take_seats(session_id=session.pk, seats=seats, now=now)
        if booking.total_amount == 0:
            # A free session: nothing to pay, so the booking is confirmed at once.
            booking_apply_transition(booking, Booking.Status.PAID, actor=actor, now=now,
                                     data={"free": True})
            booking_send_confirmations(booking)
    return booking


def _record_discounts(*, booking: Booking, quote: PriceQuote, session, now: datetime) -> None:
    """The discounts of a booking being made, and its code's use: taken with a conditional
    UPDATE that holds the code's row until the commit (apps.pricing.services), so a code's
    last use goes to exactly one booking. Raises DiscountCodeError (rolled back) if it is
    gone. One query for the rows, whatever the number of seats."""
    if code := quote.code_discount:
        discount_code_redeem(code_id=code.code_id, session=session, now=now)
    # Kept on the booking (like its attendees) for callers answering from what was written.
    booking.created_discounts = BookingDiscount.objects.bulk_create(
        BookingDiscount(booking=booking, kind=d.kind, code_id=d.code_id, label=d.label,
                        amount=d.amount) for d in quote.discounts) if quote.discounts else []


def _follow_code_use(booking: Booking, *, old_status: str, new_status: str, actor,
                     now: datetime) -> None:
    """A booking that ends before it was paid (its hold lapsed, cancelled unpaid) gives its
    code's use back; one paid after its hold lapsed takes it again (the customer paid the
    discounted price). A paid booking cancelled or refunded later keeps it: it was used."""
    released = old_status == Booking.Status.PENDING and new_status in (
        Booking.Status.EXPIRED, Booking.Status.CANCELLED)
    retaken = old_status == Booking.Status.EXPIRED and new_status == Booking.Status.PAID
    if not (released or retaken):
        return
    line = BookingDiscount.objects.filter(booking=booking, code__isnull=False).first()
    if line is None or (line.use_released_at is None) != released:
        return
    if released:
        discount_code_release(code_id=line.code_id)
        BookingDiscount.objects.filter(pk=line.pk).update(use_released_at=now)
        log_action("discount_code.released", actor=actor, target=booking,
                   user=booking.purchaser_id, data={"code": line.code_id, "to": new_status})
    else:
        over = discount_code_retake(code_id=line.code_id)
        BookingDiscount.objects.filter(pk=line.pk).update(use_released_at=None)
        log_action("discount_code.retaken", actor=actor, target=booking,
                   user=booking.purchaser_id, data={"code": line.code_id, "over_limit": over})


def booking_apply_transition(booking: Booking, new_status: str, *, actor, now, data=None,
                             purchaser_spent: int = 0) -> None:
    """Move a booking that the caller has locked. Seats and purchaser totals follow the
    status in the same transaction: this is the only place statuses change.
    `purchaser_spent`: money the caller has just counted for this change (a payment that
    pays the booking), added to the purchaser's `total_spent` in the same UPDATE."""
    old_status = booking.status
    check_transition(old_status, new_status)
    # The code's row before the session's, as booking_create takes them: no deadlock.
    _follow_code_use(booking, old_status=old_status, new_status=new_status, actor=actor,
                     now=now)
    held_before = old_status in SEAT_HOLDING_STATUSES
    held_after = new_status in SEAT_HOLDING_STATUSES
    if held_before and not held_after:
        _release_seats(session_id=booking.session_id, seats=booking.seats)
    elif held_after and not held_before:
        _take_seats(session_id=booking.session_id, seats=booking.seats, now=now)

    counted_before = old_status in COUNTED_STATUSES
    counted_after = new_status in COUNTED_STATUSES
    totals = {}
    if counted_after != counted_before:
        totals["total_bookings"] = F("total_bookings") + (1 if counted_after else -1)
    if purchaser_spent:
        totals["total_spent"] = F("total_spent") + purchaser_spent
    if totals:
        User.objects.filter(pk=booking.purchaser_id).update(**totals)

    booking.status = new_status
    fields = ["status", "updated_at"]
    if new_status == Booking.Status.PAID:
        booking.paid_at = now
        fields.append("paid_at")
    if new_status in {Booking.Status.CANCELLED, Booking.Status.EXPIRED, Booking.Status.REFUNDED}:
        booking.cancelled_at = now
        fields.append("cancelled_at")
    booking.save(update_fields=fields)
    log_action(f"booking.{new_status}", actor=actor, target=booking, user=booking.purchaser_id,
               data={"from": old_status, **(data or {})})


def booking_transition(*, booking_id: int, to: str, actor: User | None = None,
                       now: datetime | None = None, data: dict | None = None) -> Booking:
    """Lock the booking, re-check its status and move it (or raise TransitionError)."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
        if booking.status != to:
            booking_apply_transition(booking, to, actor=actor, now=now, data=data)
    return booking


def booking_expire_hold(*, booking_id: int, now: datetime | None = None) -> bool:
    """Expire one pending booking whose hold has lapsed; False if something else won.
    Seats only: apps.payments.holds.hold_expire also cancels its open PaymentIntents."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(pk=booking_id, status=Booking.Status.PENDING, hold_expires_at__lte=now)
            .first()
        )
        if booking is None:
            return False
        booking_apply_transition(booking, Booking.Status.EXPIRED, actor=None, now=now,
                                 data={"reason": "hold expired"})
        transaction.on_commit(lambda: waitlist_seats_freed(session_id=booking.session_id))
    return True


def release_expired_holds(*, now: datetime | None = None) -> list[int]:
    """Expire every lapsed hold, one short transaction each. Returns the booking ids."""
    now = now or timezone.now()
    candidates = Booking.objects.filter(
        status=Booking.Status.PENDING, hold_expires_at__lte=now
    ).values_list("pk", flat=True)
    return [pk for pk in list(candidates) if booking_expire_hold(booking_id=pk, now=now)]


@dataclass
class AttendanceResult:
    """What one attendance run did: attendees changed, per booking, and what it refused."""

    changed: int = 0
    marked: dict[str, int] = field(default_factory=dict)   # booking reference -> attendees
    refused: list[str] = field(default_factory=list)        # one message per refusal
    completed: list[int] = field(default_factory=list)      # completed bookings' ids

    def __int__(self):
        return self.changed

    def summary(self, attendance: str, then: str = ".") -> str:
        """"3 attendees marked attended." — with, when some were refused, how many in
        each booking and what was refused and why."""
        people = "attendee" if self.changed == 1 else "attendees"
        text = f"{self.changed} {people} marked {attendance.replace('_', '-')}"
        if self.refused:
            text += " (" + ", ".join(f"{ref}: {n}" for ref, n in self.marked.items()) + ")"
        text += then
        if self.refused:
            text += " Not marked: " + " ".join(self.refused)
        return text


def attendance_mark(*, attendee_ids: list[int], attendance: str, actor: User | None = None,
                    now: datetime | None = None) -> AttendanceResult:
    """Record who came. Only once a session has started. A paid booking whose attendees
    are all marked becomes completed (someone came) or no-show (nobody came); the result
    lists the completed bookings, whose certificates the caller issues
    (apps.certificates.attendance.attendance_record does both).

    Each booking is decided on its own (one transaction each): the result says exactly
    which were marked and which were refused, and why. Nobody with a valid certificate is
    marked a no-show: the certificate is a public statement that they attended, so staff
    revoke it first, deliberately and with a reason (Certificates -> Revoke). When nothing
    at all could be marked, ConflictError says why."""
    now = now or timezone.now()
    if attendance not in (Attendee.Attendance.ATTENDED, Attendee.Attendance.NO_SHOW):
        raise DomainError(f"Unknown attendance {attendance!r}.")
    booking_ids = set(
        Attendee.objects.filter(pk__in=attendee_ids).values_list("booking_id", flat=True)
    )
    result = AttendanceResult()
    for booking_id in sorted(booking_ids):
        with transaction.atomic():
            booking = Booking.objects.select_for_update(of=("self",)).select_related(
                "session").get(pk=booking_id)
            if booking.session.starts_at > now:
                result.refused.append(f"{booking.reference}: attendance can be marked once "
                                      "the session has started.")
                continue
            if booking.status not in (Booking.Status.PAID, Booking.Status.COMPLETED,
                                      Booking.Status.NO_SHOW):
                result.refused.append(
                    f"{booking.reference} is {booking.get_status_display().lower()}: only "
                    "paid bookings have attendance.")
                continue
            chosen = Attendee.objects.filter(pk__in=attendee_ids, booking=booking)
            if attendance == Attendee.Attendance.NO_SHOW:
                certified = list(chosen.filter(certificate__isnull=False,
                                               certificate__revoked_at__isnull=True))
                for attendee in certified:
                    result.refused.append(
                        f"{booking.reference}: {attendee.name} has a valid certificate; "
                        "revoke it first (with a reason) if they did not attend.")
                chosen = chosen.exclude(pk__in=[a.pk for a in certified])
            changed = chosen.exclude(attendance=attendance).update(attendance=attendance)
            result.changed += changed
            if changed:
                result.marked[booking.reference] = changed
            marks = set(booking.attendees.values_list("attendance", flat=True))
            settled = Attendee.Attendance.UNKNOWN not in marks
            if settled and booking.status == Booking.Status.PAID and \
                    Attendee.Attendance.ATTENDED in marks:
                booking_apply_transition(booking, Booking.Status.COMPLETED, actor=actor,
                                         now=now)
            elif settled and booking.status == Booking.Status.PAID:
                booking_apply_transition(booking, Booking.Status.NO_SHOW, actor=actor, now=now)
            log_action("attendance.marked", actor=actor, target=booking,
                       user=booking.purchaser_id, data={"attendance": attendance,
                                                        "attendees": attendee_ids,
                                                        "changed": changed})
            if booking.status == Booking.Status.COMPLETED:
                result.completed.append(booking.pk)
    if result.refused and not result.marked and not result.changed:
        raise ConflictError(" ".join(result.refused))
    return result


def booking_move(*, booking_id: int, to_session_id: int, actor: User | None = None,
                 now: datetime | None = None, refunds=(),
                 price_change: dict | None = None) -> Booking:
    """Move a pending or paid booking to another session of the same course: the new
    session's seats are taken (capacity checked in the UPDATE) and the old ones released,
    in one transaction. The price stays as it was (apps.refunds.changes.booking_transfer
    changes it first and passes the `refunds` and `price_change` people are told of)."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).select_related(
            "session__location").get(pk=booking_id)
        if booking.status not in (Booking.Status.PENDING, Booking.Status.PAID):
            raise ConflictError(f"{booking.reference} is {booking.get_status_display().lower()}"
                                ": only pending or paid bookings can be moved.")
        target = CourseSession.objects.filter(pk=to_session_id).first()
        if target is None or target.course_id != booking.session.course_id:
            raise DomainError("A booking can only move to another session of the same course.")
        if target.pk == booking.session_id:
            return booking
        _take_seats(session_id=target.pk, seats=booking.seats, now=now)
        _release_seats(session_id=booking.session_id, seats=booking.seats)
        previous_session = booking.session
        transaction.on_commit(lambda: waitlist_seats_freed(session_id=previous_session.pk))
        booking.session = target
        booking.calendar_sequence += 1
        booking.save(update_fields=["session", "calendar_sequence", "updated_at"])
        log_action("booking.moved", actor=actor, target=booking, user=booking.purchaser_id,
                   data={"from_session": previous_session.pk, "to_session": target.pk})
        booking_notify_moved(booking=booking, previous_session=previous_session, now=now,
                             refunds=refunds, price_change=price_change)
    return booking


def attendee_seat_share(*, booking: Booking, attendee: Attendee) -> int:
    """This seat's share of what the booking charges (`total_amount`, discounts included):
    the total split evenly over the booking's current seats, the odd minor units to the
    first seats in attendee order (largest remainder), so the shares sum to the total
    exactly. One query."""
    ids = list(Attendee.objects.filter(booking=booking).order_by("id")
               .values_list("id", flat=True))
    shares = split_evenly(booking.total_amount, len(ids))
    return shares[ids.index(attendee.pk)]


def attendee_seat_release(*, booking: Booking, attendee: Attendee, now: datetime,
                          share: int | None = None) -> None:
    """One place of a booking the caller has locked ends: the attendee row is kept, marked
    cancelled (it stops counting anywhere: Attendee.objects), the booking has one seat
    fewer, its list price one unit price less and its total the seat's share less
    (`share`: attendee_seat_share, computed by the caller under its lock), its calendar
    sequence rises (the attendee's calendar cancellation must outrank their invitation)
    and the session gets the seat back; the waiting list hears of it after commit. The
    money is the caller's."""
    if share is None:
        share = attendee_seat_share(booking=booking, attendee=attendee)
    Attendee.all_objects.filter(pk=attendee.pk).update(cancelled_at=now)
    attendee.cancelled_at = now
    Booking.objects.filter(pk=booking.pk).update(
        seats=F("seats") - 1, total_amount=F("total_amount") - share,
        list_amount=F("list_amount") - booking.unit_price,
        calendar_sequence=F("calendar_sequence") + 1)
    _release_seats(session_id=booking.session_id, seats=1)
    booking.refresh_from_db()
    session_id = booking.session_id
    transaction.on_commit(lambda: waitlist_seats_freed(session_id=session_id))
