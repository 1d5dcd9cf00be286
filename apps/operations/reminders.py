"""Reminder emails. Each is recorded as a Communication whose (kind, recipient, key) the
database allows once, so a beat run that is late, repeated or concurrent sends nothing
twice. Every function takes `now` so tests control time."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.bookings.notifications import booking_portal_url, payment_link
from apps.certificates.models import Certificate
from apps.certificates.selectors import certificates_not_renewed
from apps.core.emails import communication_queue
from apps.core.models import Communication
from apps.sessions.models import CourseSession
from apps.sessions.selectors import next_session_by_course


def session_reminder_key(session) -> str:
    """Once per session and start: a session moved to another date is reminded again."""
    return f"session:{session.pk}:{session.starts_at.astimezone(UTC):%Y%m%dT%H%MZ}"


def session_reminders(*, now: datetime | None = None) -> int:
    """Each attendee of a paid booking, once, when its session starts within the window."""
    now = now or timezone.now()
    window_end = now + timedelta(hours=settings.SESSION_REMINDER_HOURS)
    attendees = Attendee.objects.filter(
        # Paid, or confirmed on account and not yet paid (its seats are held).
        Q(booking__status=Booking.Status.PAID)
        | Q(booking__status=Booking.Status.PENDING, booking__payment_due_date__isnull=False),
        booking__session__status=CourseSession.Status.SCHEDULED,
        booking__session__starts_at__gt=now,
        booking__session__starts_at__lte=window_end,
        user__anonymised_at__isnull=True,  # an erased person is told nothing
    ).select_related("booking__session__course", "booking__session__location")
    already = set(Communication.objects.filter(
        kind=Communication.Kind.SESSION_REMINDER,
        dedupe_key__in={session_reminder_key(a.booking.session) for a in attendees},
    ).values_list("recipient", "dedupe_key"))
    sent = 0
    for attendee in attendees:
        key = session_reminder_key(attendee.booking.session)
        if (attendee.email, key) in already:
            continue
        if communication_queue(
            kind=Communication.Kind.SESSION_REMINDER, recipient=attendee.email,
            template="emails/session_reminder.txt",
            context={"attendee": attendee, "session": attendee.booking.session,
                     "booking": attendee.booking,
                     "link": booking_portal_url(attendee.booking, attendee.email, now=now)},
            user_id=attendee.user_id, booking=attendee.booking, dedupe_key=key,
        ):
            sent += 1
    return sent


def certificate_expiry_reminders(*, now: datetime | None = None) -> int:
    """At 90 and 30 days before expiry (settings), one email per window, with a link to
    book a renewal. A run that is late sends only the window it is in."""
    today = timezone.localdate(now or timezone.now())
    windows = settings.CERTIFICATE_EXPIRY_REMINDER_DAYS  # e.g. [90, 30]
    # A holder who came again, or holds a seat on a later run, has renewed: no reminder.
    certificates = list(certificates_not_renewed(Certificate.objects.filter(
        revoked_at__isnull=True, expires_on__gte=today,
        expires_on__lte=today + timedelta(days=windows[0]),
        user__is_active=True,
    )).select_related("course", "user"))
    next_sessions = next_session_by_course(course_ids={c.course_id for c in certificates},
                                           now=now)
    sent = 0
    for certificate in certificates:
        days_left = (certificate.expires_on - today).days
        window = min(w for w in windows if days_left <= w)
        renewal = next_sessions.get(certificate.course_id)
        renewal_url = settings.SITE_URL + (
            reverse("bookings:book", args=[renewal.pk]) if renewal
            else reverse("sessions:catalogue") + f"?course={certificate.course.slug}")
        if communication_queue(
            kind=Communication.Kind.CERTIFICATE_EXPIRY, recipient=certificate.user.email,
            template="emails/certificate_expiry.txt",
            context={"certificate": certificate, "days_left": days_left,
                     "renewal_url": renewal_url, "renewal": renewal},
            user=certificate.user, dedupe_key=f"{certificate.number}:{window}",
        ):
            sent += 1
    return sent


def hold_expiry_reminders(*, now: datetime | None = None) -> int:
    """A nudge to the purchaser when a pending booking's hold is about to run out."""
    now = now or timezone.now()
    bookings = Booking.objects.filter(
        status=Booking.Status.PENDING, hold_expires_at__gt=now,
        hold_expires_at__lte=now + timedelta(minutes=settings.HOLD_REMINDER_MINUTES),
    ).select_related("purchaser", "session__course")
    sent = 0
    for booking in bookings:
        if communication_queue(
            kind=Communication.Kind.HOLD_EXPIRED, recipient=booking.purchaser.email,
            template="emails/hold_reminder.txt",
            context={"booking": booking, "session": booking.session,
                     "pay_url": payment_link(booking)},  # signed: opens signed out
            user=booking.purchaser, booking=booking, dedupe_key=f"{booking.reference}:hold",
        ):
            sent += 1
    return sent


REMINDERS = {
    "session reminders": session_reminders,
    "certificate expiry reminders": certificate_expiry_reminders,
    "hold expiry reminders": hold_expiry_reminders,
}


def send_all_reminders(*, now: datetime | None = None) -> dict[str, int]:
    return {name: send(now=now) for name, send in REMINDERS.items()}
