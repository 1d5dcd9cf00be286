"""Bookings with awkward data for the notification tests: paid by invoice (the ledger's
manual payment) or by card (a card payment row whose refunds stay pending until a test
says what Stripe answered)."""

from datetime import timedelta

from django.utils import timezone
from icalendar import Calendar

from apps.bookings.services import AttendeeInput, BookingRequest, booking_create
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from tests.factories import CourseFactory, LocationFactory, SessionFactory


def awkward_session(**overrides):
    """A course title with an apostrophe, accents and an emoji; a two-line venue."""
    course = CourseFactory(title="Premiers secours d'urgence — Café ☕ edition", price=9500)
    location = LocationFactory(name="Saint-Étienne Hall", address_line1="Unit 4\nRiverside Works",
                               address_line2="Quay's End", city="London", postcode="E1 6AN")
    return SessionFactory(course=course, location=location, **overrides)


def book(session, *, purchaser=("Liam O'Connor", "liam@example.com"), attendees=(),
         purchaser_attends=False):
    first, _, last = purchaser[0].partition(" ")
    people = ([AttendeeInput(name=purchaser[0], email=purchaser[1])] if purchaser_attends
              else []) + [AttendeeInput(name=name, email=email) for name, email in attendees]
    return booking_create(request=BookingRequest(
        session_id=session.pk, purchaser_email=purchaser[1], purchaser_first_name=first,
        purchaser_last_name=last, attendees=people))


def pay(booking, *, method=Payment.Method.INVOICE):
    payment_record_manual(booking=booking, actor=None, method=method)
    booking.refresh_from_db()
    return booking


def emails(kind=None, **filters):
    rows = Communication.objects.all().order_by("pk")
    if kind:
        rows = rows.filter(kind=kind)
    return list(rows.filter(**filters))


def by_recipient(kind):
    return {c.recipient: c for c in emails(kind)}


def calendars(communication):
    """Every calendar attached, parsed by a strict parser (icalendar raises on bad input)."""
    return [Calendar.from_ical(a["content"]) for a in communication.attachments
            if a["mimetype"].startswith("text/calendar")]


def event_of(calendar):
    (event,) = calendar.walk("VEVENT")
    return event


def soon(days=10, hour=9):
    start = timezone.localtime() + timedelta(days=days)
    return start.replace(hour=hour, minute=0, second=0, microsecond=0)


def admin_edit_data(admin_client, session, **changes):
    """The session's admin change form as loaded, with `changes` applied (datetimes as the
    admin's split date/time fields)."""
    url = f"/admin/course_sessions/coursesession/{session.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    for name in ("starts_at", "ends_at"):
        value = timezone.localtime(changes.pop(name, data.pop(name)))
        data[f"{name}_0"], data[f"{name}_1"] = value.strftime("%Y-%m-%d"), value.strftime(
            "%H:%M:%S")
    data.update(changes)
    return url, data
