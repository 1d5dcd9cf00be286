"""Calendar invitations (RFC 5545 / iTIP, RFC 5546) for a person's place on a session.

Each entry has a UID that never changes for as long as the place exists: one per seat
(an attendee row, which survives a move to another session) and one per booking for a
purchaser who does not attend. Every change that alters what the entry says raises the
booking's `calendar_sequence`, so a later invitation (METHOD:REQUEST) replaces the
earlier one in strict clients, and a cancellation (METHOD:CANCEL) removes it.
"""

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from icalendar import Calendar, Event, vCalAddress, vText

REQUEST = "REQUEST"
CANCEL = "CANCEL"


def _host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def entry_uid(*, booking, attendee=None) -> str:
    """The stable UID of a seat (attendee) or, for a purchaser who does not attend, of the
    booking."""
    if attendee is not None:
        return f"{booking.reference}-seat-{attendee.pk}@{_host()}"
    return f"{booking.reference}@{_host()}"


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def venue_text(location) -> str:
    """The venue on one line ("Hall, Unit 4, Riverside Works, London, E1 6AN"), whatever
    line breaks were typed into its address."""
    parts = [location.name, location.address_line1, location.address_line2, location.city,
             location.postcode]
    return ", ".join(one_line(line) for part in parts for line in str(part).splitlines()
                     if one_line(line))


def entry_calendar(*, booking, attendee=None, method: str, recipient_email: str,
                   recipient_name: str, now: datetime) -> str:
    """One VCALENDAR with one VEVENT for one person's entry of `booking`."""
    session = booking.session
    calendar = Calendar()
    calendar.add("prodid", f"-//{one_line(settings.SITE_NAME)}//Course booking//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", entry_uid(booking=booking, attendee=attendee))
    event.add("sequence", booking.calendar_sequence)
    event.add("dtstamp", now)
    event.add("dtstart", session.starts_at)
    event.add("dtend", session.ends_at)
    title = one_line(session.course.title)
    event.add("summary", f"{'Cancelled: ' if method == CANCEL else ''}{title} "
                         f"({booking.reference})")
    event.add("location", venue_text(session.location))
    event.add("description", session.course.what_to_bring or session.course.summary)
    event.add("status", "CANCELLED" if method == CANCEL else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{settings.EMAIL_REPLY_TO}")
    organizer.params["cn"] = vText(one_line(settings.SITE_NAME))
    event.add("organizer", organizer)
    person = vCalAddress(f"mailto:{recipient_email}")
    if recipient_name:
        person.params["cn"] = vText(one_line(recipient_name))
    person.params["role"] = vText("REQ-PARTICIPANT" if attendee else "NON-PARTICIPANT")
    person.params["partstat"] = vText("ACCEPTED")
    person.params["rsvp"] = vText("FALSE")
    event.add("attendee", person)
    calendar.add_component(event)
    return calendar.to_ical().decode()
