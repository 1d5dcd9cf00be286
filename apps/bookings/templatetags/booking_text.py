"""Filters for plain-text emails: a session's local dates and times, a venue as lines."""

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from apps.bookings.calendar import one_line, venue_lines

register = template.Library()


@register.filter
def when(session) -> str:
    """"Friday 4 June 2027, 09:00 to 17:00", with the end date when it is another day
    ("Friday 4 June 2027, 22:00 to Saturday 5 June 2027, 02:00"), in local time."""
    starts, ends = timezone.localtime(session.starts_at), timezone.localtime(session.ends_at)
    text = date_format(starts, "l j F Y, H:i")
    if ends.date() == starts.date():
        return f"{text} to {date_format(ends, 'H:i')}"
    return f"{text} to {date_format(ends, 'l j F Y, H:i')}"


@register.filter
def venue(location, indent: int = 0) -> str:
    """The venue's name and address, one line each, later lines indented to align."""
    return ("\n" + " " * int(indent)).join(venue_lines(location))


@register.filter
def oneline(text) -> str:
    return one_line(text)
