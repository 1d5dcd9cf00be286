"""The trainer's day: the attendance register of a session (a printable PDF sign-in
sheet) and who is on it."""

from django.conf import settings
from django.utils import timezone

from apps.bookings.models import COUNTED_STATUSES, Attendee
from apps.core.documents import render_pdf

REGISTER_TEMPLATE = "admin/course_sessions/register_pdf.html"
REGISTER_STYLESHEET = "css/register.css"


def session_register(*, session_ids) -> list[Attendee]:
    """The people expected on these sessions (paid, completed or no-show bookings), by
    session then name, with what the trainer needs on the day."""
    return list(Attendee.objects.filter(
        booking__session_id__in=session_ids, booking__status__in=COUNTED_STATUSES,
    ).select_related("booking__session__course", "booking__session__location",
                     "booking__session__trainer").order_by(
        "booking__session__starts_at", "booking__session_id", "name", "pk"))


def register_pdf(*, sessions) -> bytes:
    """One A4 sign-in sheet per session: name, company, booking, special requirements,
    and a box to sign."""
    attendees = session_register(session_ids=[s.pk for s in sessions])
    sheets = [{"session": session,
               "attendees": [a for a in attendees if a.booking.session_id == session.pk]}
              for session in sessions]
    return render_pdf(template=REGISTER_TEMPLATE, stylesheet=REGISTER_STYLESHEET, context={
        "sheets": sheets, "provider_name": settings.SITE_NAME, "printed_at": timezone.now()})
