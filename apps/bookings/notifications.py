"""Emails about bookings. Each is recorded as a Communication and sent after commit."""

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event

from apps.core.emails import communication_queue
from apps.core.models import Communication


def booking_calendar(booking) -> str:
    session = booking.session
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.SITE_NAME}//Course booking//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{booking.reference}@{settings.SITE_URL.split('//')[-1]}")
    event.add("summary", f"{session.course.title} ({booking.reference})")
    event.add("dtstart", session.starts_at)
    event.add("dtend", session.ends_at)
    event.add("location", f"{session.location.name}, {session.location.address}")
    event.add("description", session.course.what_to_bring or session.course.summary)
    calendar.add_component(event)
    return calendar.to_ical().decode()


def _booking_url(booking) -> str:
    return settings.SITE_URL + reverse("bookings:detail", args=[booking.reference])


def booking_send_confirmations(booking, *, resend: str = "") -> None:
    """One confirmation to the purchaser and one to each attendee, never twice; staff can
    `resend` (a key naming that resend, so a double click still sends once)."""
    booking = type(booking).objects.select_related(
        "session__course", "session__location", "purchaser"
    ).get(pk=booking.pk)
    attendees = list(booking.attendees.all())
    ics = [{"filename": f"{booking.reference}.ics", "mimetype": "text/calendar",
            "content": booking_calendar(booking)}]
    context = {"booking": booking, "session": booking.session, "attendees": attendees,
               "booking_url": _booking_url(booking)}
    communication_queue(
        kind=Communication.Kind.BOOKING_CONFIRMATION,
        recipient=booking.purchaser.email,
        template="emails/booking_confirmation.txt",
        context={**context, "recipient_name": booking.purchaser.first_name, "purchaser": True},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=f"{booking.reference}{resend}",
        attachments=ics,
    )
    for attendee in attendees:
        if attendee.email == booking.purchaser.email:
            continue
        communication_queue(
            kind=Communication.Kind.BOOKING_CONFIRMATION,
            recipient=attendee.email,
            template="emails/booking_confirmation.txt",
            context={**context, "recipient_name": attendee.name.split(" ")[0],
                     "purchaser": False},
            user_id=attendee.user_id,
            booking=booking,
            dedupe_key=f"{booking.reference}{resend}",
            attachments=ics,
        )


def booking_send_late_refund(booking, payment) -> None:
    communication_queue(
        kind=Communication.Kind.LATE_PAYMENT_REFUNDED,
        recipient=booking.purchaser.email,
        template="emails/late_payment_refunded.txt",
        context={"booking": booking, "session": booking.session, "payment": payment},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=f"{booking.reference}:{payment.pk}",
    )


PAYMENT_LINK_SALT = "booking-payment-link"
PAYMENT_LINK_MAX_AGE = 7 * 24 * 3600


def payment_link(booking) -> str:
    """A link that opens the booking's payment page without signing in (signed, 7 days)."""
    from django.core import signing

    key = signing.dumps(booking.reference, salt=PAYMENT_LINK_SALT)
    return f"{settings.SITE_URL}{booking.get_absolute_url()}?key={key}"


def payment_link_reference(key: str) -> str | None:
    from django.core import signing

    try:
        return signing.loads(key, salt=PAYMENT_LINK_SALT, max_age=PAYMENT_LINK_MAX_AGE)
    except signing.BadSignature:
        return None


def booking_send_payment_link(booking) -> None:
    communication_queue(
        kind=Communication.Kind.PAYMENT_LINK,
        recipient=booking.purchaser.email,
        template="emails/payment_link.txt",
        context={"booking": booking, "session": booking.session, "link": payment_link(booking)},
        user=booking.purchaser,
        booking=booking,
        dedupe_key=booking.reference,
    )
