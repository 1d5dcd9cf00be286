"""Substitution: a seat passes from one person to another (a colleague goes instead).

The attendee row (the seat) stays, with its calendar UID; the person on it changes: name,
address and the user account it belongs to, so the seat's emails, portal view,
attendance and certificate follow the new person and the old one keeps nothing of it.
Customers may do it until `SUBSTITUTION_CUTOFF_HOURS` before the start, staff until the
start.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ConflictError, DomainError
from apps.users.audit import log_action
from apps.users.models import normalize_email
from apps.users.services import user_get_or_create

from .models import Attendee, Booking
from .notifications import booking_notify_substituted
from .selectors import seats_held_on_session
from .services import AlreadyBookedError, _lock_people_on_session, _split_name

NAME_MAX = Attendee._meta.get_field("name").max_length


@dataclass(frozen=True)
class SubstitutionRules:
    """Whether a seat may change hands now, and why not (for pages that offer it)."""

    allowed: bool
    reason: str = ""


def substitution_cutoff(*, booking: Booking) -> datetime:
    return booking.session.starts_at - timedelta(hours=settings.SUBSTITUTION_CUTOFF_HOURS)


def substitution_rules(*, booking: Booking, by_staff: bool = False,
                       now: datetime | None = None) -> SubstitutionRules:
    """The one place that says whether this booking's seats may be given to someone else."""
    now = now or timezone.now()
    # A booking on account is confirmed while unpaid: its seats are held until paid.
    holding = booking.status == Booking.Status.PENDING and (
        booking.on_account
        or (booking.hold_expires_at is not None and booking.hold_expires_at > now))
    if booking.status != Booking.Status.PAID and not holding:
        return SubstitutionRules(False, f"Booking {booking.reference} is "
                                        f"{booking.get_status_display().lower()}: its seats "
                                        "cannot be given to someone else.")
    if booking.session.starts_at <= now:
        return SubstitutionRules(False, "The session has started: its seats can no longer "
                                        "change hands.")
    if not by_staff and now >= substitution_cutoff(booking=booking):
        return SubstitutionRules(False, (
            f"Seats can be passed to someone else until {settings.SUBSTITUTION_CUTOFF_HOURS} "
            "hours before the start. Please contact us: we may still be able to help."))
    return SubstitutionRules(True)


def _clean(name: str, email: str) -> tuple[str, str]:
    name = " ".join(str(name or "").split())
    email = normalize_email(email or "")
    if not name:
        raise DomainError("Enter the name of the person who will attend.")
    if len(name) > NAME_MAX:
        raise DomainError(f"The name is too long (at most {NAME_MAX} characters).")
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError("Enter a valid email address for the person who will attend.") \
            from None
    return name, email


def attendee_substitute(*, attendee_id: int, name: str, email: str, actor, now=None,
                        by_staff: bool = False, replacing: str | None = None) -> Attendee:
    """Give the seat `attendee_id` to the person `name <email>` (a new or existing user).

    `replacing`: the address the caller saw on the seat; if the seat changed hands since
    (another substitution won the race), it is refused rather than done on top.
    """
    now = now or timezone.now()
    name, email = _clean(name, email)
    seat = Attendee.objects.select_related("booking").filter(pk=attendee_id).first()
    if seat is None:
        raise DomainError("No such attendee.")
    with transaction.atomic():
        # The new person first (as booking_create does), so two bookings or substitutions
        # naming them on this session cannot both give them a seat.
        _lock_people_on_session(session_id=seat.booking.session_id, emails=[email])
        booking = (Booking.objects.select_for_update(of=("self",))
                   .select_related("session", "purchaser").get(pk=seat.booking_id))
        seat = Attendee.objects.select_for_update(of=("self",)).select_related("user").get(
            pk=attendee_id)
        if booking.session_id != seat.booking.session_id:
            raise ConflictError("The booking moved to another session meanwhile: please try "
                                "again.")
        if replacing is not None and normalize_email(seat.email) != normalize_email(replacing):
            raise ConflictError(f"This seat has just been given to {seat.name} by someone "
                                "else: check the attendees and try again if needed.")
        rules = substitution_rules(booking=booking, by_staff=by_staff, now=now)
        if not rules.allowed:
            raise ConflictError(rules.reason)
        if email in (normalize_email(seat.email), normalize_email(seat.user.email)):
            raise DomainError(f"{email} already holds this seat.")
        if seats_held_on_session(session_id=booking.session_id, emails=[email], now=now) \
                .exists():
            raise AlreadyBookedError(f"{name} ({email}) already has a seat on this session.")
        first, last = _split_name(name)
        person = user_get_or_create(email=email, first_name=first, last_name=last, actor=actor)
        if booking.attendees.filter(user=person).exists():  # their account, another address
            raise AlreadyBookedError(f"{name} ({email}) already has a seat on this booking.")
        before = {"name": seat.name, "email": seat.email, "user_id": seat.user_id}
        seat.name, seat.email, seat.user = name, email, person
        seat.save(update_fields=["name", "email", "user"])
        booking.calendar_sequence += 1
        booking.save(update_fields=["calendar_sequence", "updated_at"])
        log_action("attendee.substituted", actor=actor, target=booking,
                   user=booking.purchaser_id, data={
                       "attendee": seat.pk, "by_staff": by_staff,
                       "before": {"name": before["name"], "email": before["email"],
                                  "user": before["user_id"]},
                       "after": {"name": name, "email": email, "user": person.pk}})
        if booking.status == Booking.Status.PAID:
            # A pending booking's guests hear of it once it is paid (the confirmations).
            booking_notify_substituted(booking=booking, attendee=seat, before=before, now=now)
    return seat


def attendee_correct_name(*, attendee_id: int, name: str, actor) -> Attendee:
    """Staff correct the spelling of an attendee's name: the same person (account and
    address unchanged), so nobody is emailed; the certificate will carry the new spelling."""
    name = " ".join(str(name or "").split())
    if not name or len(name) > NAME_MAX:
        raise DomainError(f"Enter the name (1 to {NAME_MAX} characters).")
    with transaction.atomic():
        seat = Attendee.objects.select_for_update(of=("self",)).get(pk=attendee_id)
        if seat.name == name:
            return seat
        before, seat.name = seat.name, name
        seat.save(update_fields=["name"])
        log_action("attendee.name_corrected", actor=actor, target=seat.booking,
                   user=seat.user_id, data={"attendee": seat.pk, "before": before,
                                            "after": name})
    return seat
