"""Every email about a booking tells each person the truth, once, with a calendar entry
that strict clients accept and later changes replace (issues #21.5-6, #24.3, #25, #27)."""

import pytest

from apps.bookings.notifications import booking_send_confirmations
from apps.core.models import Communication
from tests.bookings.notify_helpers import (
    awkward_session,
    book,
    by_recipient,
    calendars,
    event_of,
    pay,
)

pytestmark = pytest.mark.django_db

KIND = Communication.Kind


def test_plain_text_emails_carry_no_html_entities(django_capture_on_commit_callbacks):
    session = awkward_session()
    with django_capture_on_commit_callbacks(execute=False):
        pay(book(session, attendees=[("Siobhán O'Brien", "siobhan@example.com")]))
    guest = by_recipient(KIND.BOOKING_CONFIRMATION)["siobhan@example.com"]
    assert "Liam O'Connor has booked a seat for you" in guest.body
    assert "Premiers secours d'urgence" in guest.subject
    for text in (guest.subject, guest.body):
        assert "&#" not in text and "&amp;" not in text and "&quot;" not in text


def test_calendar_entries_have_a_dtstamp_a_stable_uid_and_a_sequence(
        django_capture_on_commit_callbacks):
    session = awkward_session()
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(session, attendees=[("Ann Lee", "ann@example.com"),
                                               ("Bo Chen", "bo@example.com")]))
        booking_send_confirmations(booking, resend=":resend:1")
    uids = {}
    for communication in Communication.objects.filter(kind=KIND.BOOKING_CONFIRMATION):
        (calendar,) = calendars(communication)
        assert calendar["METHOD"] == "REQUEST"
        event = event_of(calendar)
        assert event.get("DTSTAMP") is not None
        assert event["SEQUENCE"] == 0
        uids.setdefault(communication.recipient, set()).add(str(event["UID"]))
    # Two sends each (first and resend), one stable UID per person's entry, all different.
    assert set(uids) == {"liam@example.com", "ann@example.com", "bo@example.com"}
    assert all(len(found) == 1 for found in uids.values())
    assert len({uid for found in uids.values() for uid in found}) == 3
