"""Staff changing a scheduled session: its capacity never below the seats taken, and
everyone booked on it told at once when its date, time or venue changes."""

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.errors import ConflictError
from apps.sessions.catalogue_cache import catalogue_changed
from apps.sessions.models import CourseSession
from apps.users.audit import log_action

from .models import Booking
from .notifications import SESSION_CHANGED, booking_notify
from .waitlist import waitlist_seats_freed

# Changed only by bookings (the seat UPDATE) and by cancelling the session: an edit must
# never write back the values it loaded, or it would undo a booking or a cancellation
# committed while staff had the page open.
NEVER_SAVED_BY_AN_EDIT = ("seats_taken", "status")
WHAT_PEOPLE_ARE_TOLD = ("starts_at", "ends_at", "location_id")


def session_lock_for_edit(*, session_id: int) -> CourseSession:
    """Lock the session row until the edit commits: a booking in flight waits for it and
    then checks its seats against the new capacity (its seat UPDATE needs this row)."""
    return CourseSession.objects.select_for_update(no_key=True).select_related(
        "location").get(pk=session_id)


def session_capacity_error(*, capacity: int, seats_taken: int) -> str | None:
    if capacity is not None and capacity < seats_taken:
        return (f"{seats_taken} seat{'s are' if seats_taken != 1 else ' is'} already taken: "
                f"the capacity cannot be less than {seats_taken}.")
    return None


def session_save_edit(*, session: CourseSession, actor=None,
                      now: datetime | None = None) -> list[int]:
    """Save staff's edit of an existing session. Refuses a capacity below the seats taken
    (ConflictError); when the start, end or venue changed, raises the calendar sequence of
    every pending or paid booking and tells their people (an updated invitation; reminders
    follow the new start). Returns the ids of the bookings whose people were told."""
    now = now or timezone.now()
    with transaction.atomic():
        before = session_lock_for_edit(session_id=session.pk)
        error = session_capacity_error(capacity=session.capacity,
                                       seats_taken=before.seats_taken)
        if error:
            raise ConflictError(error, code="capacity_below_seats_taken")
        session.save(update_fields=[
            f.name for f in session._meta.concrete_fields
            if not f.primary_key and f.name not in NEVER_SAVED_BY_AN_EDIT])
        catalogue_changed()
        if session.capacity > before.capacity:
            transaction.on_commit(lambda: waitlist_seats_freed(session_id=session.pk))
        changed = [name for name in WHAT_PEOPLE_ARE_TOLD
                   if getattr(before, name) != getattr(session, name)]
        if not changed or before.status != CourseSession.Status.SCHEDULED:
            return []
        affected = Booking.objects.filter(
            session_id=session.pk, status__in=[Booking.Status.PENDING, Booking.Status.PAID])
        ids = list(affected.order_by("pk").values_list("pk", flat=True))
        Booking.objects.filter(pk__in=ids).update(
            calendar_sequence=F("calendar_sequence") + 1)
        log_action("session.changed", actor=actor, target=session, data={
            "changed": changed, "bookings": ids,
            "before": {"starts_at": before.starts_at.isoformat(),
                       "ends_at": before.ends_at.isoformat(),
                       "location": before.location_id}})
        if ids:
            booking_notify(
                change=SESSION_CHANGED, now=now,
                bookings=Booking.objects.filter(pk__in=ids).select_related(
                    "session__course", "session__location", "purchaser").prefetch_related(
                    "attendees", "payments__refunds").order_by("pk"),
                dedupe_key=f"session:{session.pk}:changed:{now.isoformat()}",
                previous={"starts_at": before.starts_at, "ends_at": before.ends_at,
                          "location": before.location},
                guests_told=lambda booking: booking.status != Booking.Status.PENDING)
    return ids
