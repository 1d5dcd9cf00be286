"""Filters for plain-text emails: a session's local dates and times, a venue on one line."""

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from apps.bookings.calendar import one_line, venue_text
from apps.bookings.selectors import booking_price as price_of_booking

register = template.Library()


@register.filter
def when(session) -> str:
    """"Friday 4 June 2027, 09:00 to 17:00", with the end date when it is another day
    ("Friday 4 June 2027, 22:00 to Saturday 5 June 2027, 02:00"), in local time."""
    if isinstance(session, dict):  # what a session said before a change
        starts, ends = session["starts_at"], session["ends_at"]
    else:
        starts, ends = session.starts_at, session.ends_at
    starts, ends = timezone.localtime(starts), timezone.localtime(ends)
    text = date_format(starts, "l j F Y, H:i")
    if ends.date() == starts.date():
        return f"{text} to {date_format(ends, 'H:i')}"
    return f"{text} to {date_format(ends, 'l j F Y, H:i')}"


@register.filter
def venue(location) -> str:
    return venue_text(location)


@register.filter
def oneline(text) -> str:
    return one_line(text)


@register.simple_tag
def booking_price(booking):
    """`{% booking_price booking as price %}`: list price, discounts, total."""
    return price_of_booking(booking)
