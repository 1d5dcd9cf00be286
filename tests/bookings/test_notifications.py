"""Every email about a booking tells each person the truth, once, with a calendar entry
that strict clients accept and later changes replace (issues #21.5-6, #24.3, #25, #27)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.notifications import booking_send_confirmations
from apps.bookings.services import booking_move
from apps.core.models import Communication
from apps.operations.reminders import session_reminders
from apps.payments.models import Payment
from apps.refunds.cancellation import booking_cancel, session_cancel
from apps.refunds.models import Refund
from apps.refunds.services import refund_mark_failed, refund_mark_succeeded
from tests.bookings.notify_helpers import (
    admin_edit_data,
    awkward_session,
    book,
    by_recipient,
    calendars,
    emails,
    event_of,
    pay,
    soon,
)
from tests.factories import SessionFactory

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


def _confirmation_uid(recipient):
    (calendar,) = calendars(by_recipient(KIND.BOOKING_CONFIRMATION)[recipient])
    return str(event_of(calendar)["UID"])


def test_moving_a_booking_tells_each_person_with_an_invitation_that_replaces_the_old(
        django_capture_on_commit_callbacks):
    """#27.1, #25.6: the purchaser and each guest get the new date and venue and an
    updated invitation (same UID, higher SEQUENCE)."""
    session = awkward_session(starts_at=soon(days=10))
    other = SessionFactory(course=session.course, starts_at=soon(days=20, hour=13))
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(session, attendees=[("Ann Lee", "ann@example.com"),
                                               ("Bo Chen", "bo@example.com")]))
        booking_move(booking_id=booking.pk, to_session_id=other.pk)
    told = by_recipient(KIND.BOOKING_CHANGED)
    assert set(told) == {"liam@example.com", "ann@example.com", "bo@example.com"}
    new_when = timezone.localtime(other.starts_at)
    for recipient, communication in told.items():
        assert booking.reference in communication.subject
        assert f"{new_when:%H:%M}" in communication.body
        assert other.location.name in communication.body
        assert "Saint-Étienne Hall" in communication.body  # where it was before
        (calendar,) = calendars(communication)
        event = event_of(calendar)
        assert calendar["METHOD"] == "REQUEST"
        assert str(event["UID"]) == _confirmation_uid(recipient)
        assert event["SEQUENCE"] == 1
        assert event.decoded("DTSTART") == other.starts_at
    assert "we have told each attendee" in told["liam@example.com"].body


def test_a_new_date_or_venue_tells_each_person_once_and_the_reminder_follows(
        admin_client, django_capture_on_commit_callbacks):
    """#25.5, #24.3: every person on the session is told once (someone in two bookings
    too) with an updated invitation; the reminder already sent for the old date does not
    block the one for the new date, which shows the new date."""
    now = timezone.now()
    session = awkward_session(starts_at=soon(days=1, hour=10))
    with django_capture_on_commit_callbacks(execute=False):
        first = pay(book(session, attendees=[("Ann Lee", "ann@example.com")]))
        second = pay(book(session, purchaser=("Ann Lee", "ann@example.com"),
                          purchaser_attends=False, attendees=[("Cy Diaz", "cy@example.com")]))
        unpaid = book(session, purchaser=("Dee Eve", "dee@example.com"),
                      attendees=[("Guest Unpaid", "unpaid.guest@example.com")])
        assert session_reminders(now=now) == 2  # Ann and Cy, for the old date
        new_start = session.starts_at + timedelta(hours=3)
        url, data = admin_edit_data(admin_client, session, starts_at=new_start,
                                    ends_at=new_start + timedelta(hours=6))
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
    told = by_recipient(KIND.BOOKING_CHANGED)
    # Ann attends `first` and bought `second`: one email about both. The unpaid booking's
    # purchaser is told (they are about to pay for it); its guest never heard of it.
    assert sorted(told) == ["ann@example.com", "cy@example.com", "dee@example.com",
                            "liam@example.com"]
    ann = told["ann@example.com"]
    assert first.reference in ann.body and second.reference in ann.body
    assert len(calendars(ann)) == 2
    for communication in told.values():
        for calendar in calendars(communication):
            assert calendar["METHOD"] == "REQUEST"
            assert event_of(calendar)["SEQUENCE"] == 1
            assert event_of(calendar).decoded("DTSTART") == new_start
    assert unpaid.reference in told["dee@example.com"].body

    with django_capture_on_commit_callbacks(execute=False):
        assert session_reminders(now=now + timedelta(hours=1)) == 2
    latest = Communication.objects.filter(kind=KIND.SESSION_REMINDER).order_by("-pk")[:2]
    assert {c.recipient for c in latest} == {"ann@example.com", "cy@example.com"}
    assert all(f"{timezone.localtime(new_start):%H:%M}" in c.body for c in latest)


def test_cancelling_a_session_tells_purchasers_and_each_person_once_and_cancels_the_event(
        django_capture_on_commit_callbacks):
    """#27.2, #27.4: a purchaser who booked only for others is told; someone in two
    bookings gets one email naming both; every calendar file is a METHOD:CANCEL of the
    entry the confirmation created."""
    session = awkward_session()
    with django_capture_on_commit_callbacks(execute=False):
        group = pay(book(session, attendees=[("Ann Lee", "ann@example.com"),
                                             ("Bo Chen", "bo@example.com")]))
        own = pay(book(session, purchaser=("Ann Lee", "ann@example.com"),
                       purchaser_attends=False, attendees=[("Cy Diaz", "cy@example.com")]))
        session_cancel(session_id=session.pk, reason="Trainer ill")
    told = by_recipient(KIND.SESSION_CANCELLED)
    assert sorted(told) == ["ann@example.com", "bo@example.com", "cy@example.com",
                            "liam@example.com"]
    assert group.reference in told["ann@example.com"].body
    assert own.reference in told["ann@example.com"].body
    for communication in told.values():
        for calendar in calendars(communication):
            event = event_of(calendar)
            assert calendar["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"
            assert event["SEQUENCE"] == 1
    assert str(event_of(calendars(told["bo@example.com"])[0])["UID"]) == \
        _confirmation_uid("bo@example.com")


def test_cancelling_one_booking_tells_each_attendee_their_seat_and_the_purchaser_the_money(
        django_capture_on_commit_callbacks):
    """#27.3, #27.5, #25.1: each of 12 guests is told their seat is gone (no money in
    their email); the purchaser is told the refund is on its way (pending at Stripe), for
    the amount in the ledger; when it later fails, they are told that too."""
    session = awkward_session()
    guests = [(f"Guest {n}", f"guest{n}@example.com") for n in range(12)]
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(session, attendees=guests), method=Payment.Method.CARD)
        (refund,) = booking_cancel(booking_id=booking.pk, reason="Customer asked")
    assert refund.status == "pending" and refund.amount == 12 * 9500
    told = by_recipient(KIND.BOOKING_CANCELLED)
    assert sorted(told) == sorted(["liam@example.com"] + [g[1] for g in guests])
    purchaser = told["liam@example.com"].body
    assert "A refund of £1,140.00 for booking" in purchaser and "is on its way" in purchaser
    assert "has been refunded" not in purchaser
    for email in (g[1] for g in guests):
        assert "£" not in told[email].body
        assert "Your seat on" in told[email].body
        (calendar,) = calendars(told[email])
        assert calendar["METHOD"] == "CANCEL"
        assert str(event_of(calendar)["UID"]) == _confirmation_uid(email)

    with django_capture_on_commit_callbacks(execute=False):
        refund_mark_failed(refund_id=refund.pk, reason="Stripe refused: card closed")
    (failed,) = emails(KIND.REFUND_FAILED)
    assert failed.recipient == "liam@example.com"
    assert "£1,140.00" in failed.subject and "did not go through" in failed.subject


def test_cancelling_a_pending_booking_tells_the_purchaser_nothing_was_taken(
        django_capture_on_commit_callbacks):
    session = awkward_session()
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(session, attendees=[("Ann Lee", "ann@example.com")])
        booking_cancel(booking_id=booking.pk, reason="Changed my mind")
    (only,) = emails(KIND.BOOKING_CANCELLED)
    assert only.recipient == "liam@example.com"
    assert "Nothing had been paid" in only.body


def test_a_pending_refund_is_on_its_way_in_a_session_cancellation_and_followed_up(
        django_capture_on_commit_callbacks):
    """#25.1: the cancellation email says what the ledger says when it is written; the
    follow-up says what happened."""
    session = awkward_session()
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(session, purchaser_attends=True), method=Payment.Method.CARD)
        session_cancel(session_id=session.pk, reason="Venue flooded")
    body = by_recipient(KIND.SESSION_CANCELLED)["liam@example.com"].body
    assert "A refund of £95.00 for booking" in body and "is on its way" in body
    assert "refunded in full" not in body and "has been refunded" not in body
    refund = Refund.objects.get(payment__booking=booking)
    with django_capture_on_commit_callbacks(execute=False):
        refund_mark_succeeded(refund_id=refund.pk)
    (issued,) = emails(KIND.REFUND_ISSUED)
    assert issued.recipient == "liam@example.com" and "£95.00" in issued.subject


def test_a_session_cancel_interrupted_after_some_bookings_tells_their_people_when_rerun(
        django_capture_on_commit_callbacks):
    """The emails are written after the bookings are cancelled: a run that died in between
    leaves them to the next run, which tells everyone once."""
    session = awkward_session()
    with django_capture_on_commit_callbacks(execute=False):
        done = pay(book(session, attendees=[("Ann Lee", "ann@example.com")]))
        rest = pay(book(session, purchaser=("Bo Chen", "bo@example.com"),
                        purchaser_attends=True))
        # The first run got this far: the session and one booking cancelled, then it died.
        session.status = "cancelled"
        session.save(update_fields=["status"])
        booking_cancel(booking_id=done.pk, reason="Trainer ill", notify=False,
                       initiator=Refund.Initiator.SESSION_CANCELLED)
        assert not emails(KIND.SESSION_CANCELLED)
        summary = session_cancel(session_id=session.pk, reason="Trainer ill")
        session_cancel(session_id=session.pk, reason="Trainer ill")
    assert summary["booking_ids"] == [rest.pk]
    told = [c.recipient for c in emails(KIND.SESSION_CANCELLED)]
    assert sorted(told) == ["ann@example.com", "bo@example.com", "liam@example.com"]


def test_a_policy_refund_says_what_goes_back_and_what_is_kept(
        django_capture_on_commit_callbacks):
    session = awkward_session()
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(session, purchaser_attends=True), method=Payment.Method.CARD)
        booking_cancel(booking_id=booking.pk, reason="Late cancellation", initiator="customer",
                       refund_amount=4750)
    body = by_recipient(KIND.BOOKING_CANCELLED)["liam@example.com"].body
    assert f"A refund of £47.50 for booking {booking.reference} is on its way" in body
    assert "Under our cancellation policy, £47.50 of the £95.00 paid is not refunded." in body


def test_a_late_payment_email_says_the_refund_is_on_its_way_not_done(
        django_capture_on_commit_callbacks):
    """#25.1's rule for every money email: the automatic refund of a payment that came too
    late is still pending at Stripe when its email is written."""
    from apps.bookings.notifications import booking_send_late_refund
    from apps.refunds.services import refund_create

    session = awkward_session()
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(session, purchaser_attends=True), method=Payment.Method.CARD)
        payment = booking.payments.get()
        refund = refund_create(payment=payment, amount=payment.amount, initiator="automatic")
        booking_send_late_refund(booking, payment)
    assert refund.status == "pending"
    (late,) = emails(KIND.LATE_PAYMENT_REFUNDED)
    assert "on its way" in late.body
    assert "We have refunded" not in late.body and "has been refunded" not in late.subject
