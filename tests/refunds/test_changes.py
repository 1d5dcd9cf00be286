"""Transfers to another date and cancelling one place: the money, the seats, the calendars
and the emails (apps/refunds/changes.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.core.errors import ConflictError
from apps.payments.services import payment_record_manual
from apps.refunds.changes import (
    AmountChanged,
    ChangeRefused,
    attendee_cancel,
    attendee_cancel_quote,
    booking_balance_due,
    booking_transfer,
    transfer_options,
)
from apps.refunds.models import Refund
from apps.refunds.selectors import customer_bookings
from apps.sessions.models import CourseSession
from apps.users.models import ActivityLog
from tests.bookings.notify_helpers import by_recipient, calendars, emails, event_of
from tests.factories import SessionFactory, make_booking
from tests.refunds.conftest import pay_by_card

pytestmark = pytest.mark.django_db


def paid_by_invoice(session, *, seats=2, email="pat@example.com"):
    booking = make_booking(session, email=email, seats=seats)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    return booking


@pytest.fixture
def dates():
    """A course on three dates, ten days apart: £50, then £60, then £40 a seat."""
    first = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(days=20))
    course = first.course
    dearer = SessionFactory(course=course, price=6000,
                            starts_at=timezone.now() + timedelta(days=30))
    cheaper = SessionFactory(course=course, price=4000,
                             starts_at=timezone.now() + timedelta(days=40))
    return first, dearer, cheaper


def seats_taken(session):
    return CourseSession.objects.get(pk=session.pk).seats_taken


# --- transfer -----------------------------------------------------------------------

def test_transfer_to_a_dearer_date_keeps_the_booking_confirmed_and_owes_the_difference(
        dates, django_capture_on_commit_callbacks):
    first, dearer, _ = dates
    booking = paid_by_invoice(first)
    with django_capture_on_commit_callbacks(execute=True):
        quote = booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk,
                                 actor=booking.purchaser, initiator="customer",
                                 confirmed_difference=2000)
    booking.refresh_from_db()
    assert (quote.before, quote.after, quote.owed, quote.refund) == (10000, 12000, 2000, 0)
    assert booking.session_id == dearer.pk and booking.status == "paid"
    assert (booking.unit_price, booking.total_amount) == (6000, 12000)
    assert booking_balance_due(booking=booking) == 2000
    assert (seats_taken(first), seats_taken(dearer)) == (0, 2)
    assert not Refund.objects.exists()
    log = ActivityLog.objects.get(action="booking.transferred")
    assert log.data["before"]["total"] == 10000 and log.data["after"]["total"] == 12000
    assert log.data["owed"] == 2000
    purchaser_email = by_recipient("booking_changed")["pat@example.com"]
    assert "£20.00 is still to pay" in purchaser_email.body
    assert "£100.00 before, £120.00 now" in purchaser_email.body


def test_transfer_to_a_cheaper_date_refunds_the_difference(
        dates, django_capture_on_commit_callbacks):
    first, _, cheaper = dates
    booking = paid_by_invoice(first)
    with django_capture_on_commit_callbacks(execute=True):
        booking_transfer(booking_id=booking.pk, to_session_id=cheaper.pk,
                         actor=booking.purchaser, initiator="customer")
    booking.refresh_from_db()
    assert (booking.unit_price, booking.total_amount) == (4000, 8000)
    (refund,) = Refund.objects.all()
    assert (refund.amount, refund.status, refund.initiator) == (2000, "succeeded", "customer")
    assert booking_balance_due(booking=booking) == 0
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 8000
    body = by_recipient("booking_changed")["pat@example.com"].body
    assert "£20.00, is being refunded" in body


def test_transfer_by_card_refunds_the_newest_payment_at_stripe(
        dates, fake_stripe, django_capture_on_commit_callbacks):
    first, _, cheaper = dates
    booking = make_booking(first, email="card@example.com", seats=2)
    payment = pay_by_card(booking)
    with django_capture_on_commit_callbacks(execute=True):
        booking_transfer(booking_id=booking.pk, to_session_id=cheaper.pk, actor=None,
                         initiator="staff")
    (refund,) = Refund.objects.all()
    assert refund.payment_id == payment.pk and refund.amount == 2000
    assert refund.status == "succeeded"


def test_transfer_at_the_same_price_changes_no_money(dates, django_capture_on_commit_callbacks):
    first, _, _ = dates
    same = SessionFactory(course=first.course, price=5000,
                          starts_at=timezone.now() + timedelta(days=25))
    booking = paid_by_invoice(first)
    with django_capture_on_commit_callbacks(execute=True):
        quote = booking_transfer(booking_id=booking.pk, to_session_id=same.pk, actor=None,
                                 initiator="staff")
    assert quote.consequence() == "same price"
    booking.refresh_from_db()
    assert booking.total_amount == 10000 and not Refund.objects.exists()


def test_everyone_gets_an_invitation_that_moves_their_event(
        dates, django_capture_on_commit_callbacks):
    first, dearer, _ = dates
    booking = paid_by_invoice(first)
    with django_capture_on_commit_callbacks(execute=True):
        pass
    confirmations = by_recipient("booking_confirmation")
    before = {email: event_of(calendars(c)[0]) for email, c in confirmations.items()}
    with django_capture_on_commit_callbacks(execute=True):
        booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=None,
                         initiator="staff")
    changed = by_recipient("booking_changed")
    assert set(changed) == set(before) == {a.email for a in booking.attendees.all()}
    for email, communication in changed.items():
        calendar = calendars(communication)[0]
        event = event_of(calendar)
        assert calendar["method"] == "REQUEST"
        # Same UID, higher SEQUENCE: a calendar client replaces the old date's event.
        assert str(event["uid"]) == str(before[email]["uid"])
        assert int(event["sequence"]) > int(before[email]["sequence"])
        assert event.decoded("dtstart") == dearer.starts_at.replace(microsecond=0)


def test_customers_cannot_transfer_inside_the_cutoff_but_staff_can(settings):
    settings.TRANSFER_CUTOFF_HOURS = 48
    soon = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(hours=30))
    later = SessionFactory(course=soon.course, price=5000,
                           starts_at=timezone.now() + timedelta(days=9))
    booking = paid_by_invoice(soon)
    assert transfer_options(booking=booking) == []
    with pytest.raises(ChangeRefused, match="48 hours before"):
        booking_transfer(booking_id=booking.pk, to_session_id=later.pk,
                         actor=booking.purchaser, initiator="customer")
    booking_transfer(booking_id=booking.pk, to_session_id=later.pk, actor=None,
                     initiator="staff")
    booking.refresh_from_db()
    assert booking.session_id == later.pk


def test_transfer_only_to_an_open_date_of_the_same_course_with_room(dates):
    first, dearer, cheaper = dates
    other_course = SessionFactory(starts_at=timezone.now() + timedelta(days=30))
    booking = paid_by_invoice(first)
    CourseSession.objects.filter(pk=cheaper.pk).update(status=CourseSession.Status.CANCELLED)
    CourseSession.objects.filter(pk=dearer.pk).update(capacity=1)
    assert transfer_options(booking=booking) == []
    with pytest.raises(ChangeRefused, match="same course"):
        booking_transfer(booking_id=booking.pk, to_session_id=other_course.pk, actor=None,
                         initiator="customer")
    with pytest.raises(ChangeRefused, match="no longer open"):
        booking_transfer(booking_id=booking.pk, to_session_id=cheaper.pk, actor=None,
                         initiator="customer")
    with pytest.raises(ConflictError, match="left"):
        booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=None,
                         initiator="customer")
    booking.refresh_from_db()
    assert booking.session_id == first.pk and booking.total_amount == 10000
    assert seats_taken(first) == 2 and seats_taken(dearer) == 0


def test_transfer_refuses_when_an_attendee_already_has_a_seat_on_that_date(dates):
    first, dearer, _ = dates
    booking = paid_by_invoice(first)
    make_booking(dearer, email="guest1.pat@example.com")
    with pytest.raises(ChangeRefused, match="already has a seat"):
        booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=None,
                         initiator="staff")


def test_a_changed_price_since_the_page_asks_again(dates):
    first, dearer, _ = dates
    booking = paid_by_invoice(first)
    with pytest.raises(AmountChanged):
        booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=None,
                         initiator="customer", confirmed_difference=0)
    booking.refresh_from_db()
    assert booking.session_id == first.pk


# --- one attendee -------------------------------------------------------------------

def test_purchaser_cancels_one_place_refunded_by_the_policy(
        dates, django_capture_on_commit_callbacks):
    first, _, _ = dates  # 20 days away: the 14-day tier refunds 100%
    booking = paid_by_invoice(first, seats=3)
    guest = booking.attendees.get(email="guest1.pat@example.com")
    assert attendee_cancel_quote(attendee=guest).amount == 5000
    with django_capture_on_commit_callbacks(execute=True):
        refunds = attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser,
                                  initiator="customer", confirmed_amount=5000)
    assert [(r.amount, r.status) for r in refunds] == [(5000, "succeeded")]
    booking.refresh_from_db()
    assert (booking.seats, booking.total_amount, booking.status) == (2, 10000, "paid")
    assert seats_taken(first) == 2
    assert booking.attendees.count() == 2  # the cancelled place counts nowhere
    kept = Attendee.all_objects.get(pk=guest.pk)
    assert kept.cancelled_at is not None  # ...but its row is history
    assert ActivityLog.objects.filter(action="booking.attendee_cancelled").count() == 1
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 10000

    (told,) = emails("booking_cancelled", recipient=guest.email)
    event = event_of(calendars(told)[0])
    assert calendars(told)[0]["method"] == "CANCEL"
    assert str(event["uid"]).startswith(f"{booking.reference}-seat-{guest.pk}@")
    assert int(event["sequence"]) == booking.calendar_sequence >= 1
    (purchaser_told,) = emails("booking_changed", recipient="pat@example.com")
    assert "£50.00 for that place has been refunded" in purchaser_told.body
    assert "now has 2 seats: £100.00" in purchaser_told.body
    assert not emails(recipient="guest2.pat@example.com", kind="booking_changed")


def test_one_place_inside_the_half_refund_tier(settings, django_capture_on_commit_callbacks):
    session = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(days=10))
    booking = paid_by_invoice(session)
    guest = booking.attendees.get(email="guest1.pat@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        refunds = attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser,
                                  initiator="customer")
    assert [r.amount for r in refunds] == [2500]
    # Staff cancel a place in full.
    booking3 = paid_by_invoice(session, seats=2, email="sam@example.com")
    other = booking3.attendees.get(email="guest1.sam@example.com")
    assert [r.amount for r in attendee_cancel(attendee_id=other.pk, actor=None,
                                              initiator="staff")] == [5000]


def test_the_last_place_is_a_whole_booking_cancellation(dates):
    first, _, _ = dates
    booking = paid_by_invoice(first)
    guest = booking.attendees.get(email="guest1.pat@example.com")
    attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser, initiator="customer")
    last = booking.attendees.get()
    with pytest.raises(ChangeRefused, match="cancel the whole booking"):
        attendee_cancel(attendee_id=last.pk, actor=booking.purchaser, initiator="customer")


def test_only_the_purchaser_cancels_a_place_and_twice_is_once(dates):
    first, _, _ = dates
    booking = paid_by_invoice(first, seats=3)
    guest = booking.attendees.get(email="guest1.pat@example.com")
    with pytest.raises(ChangeRefused, match="Only the person who made the booking"):
        attendee_cancel(attendee_id=guest.pk, actor=guest.user, initiator="customer")
    attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser, initiator="customer")
    assert attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser,
                           initiator="customer") == []
    booking.refresh_from_db()
    assert booking.seats == 2 and Refund.objects.count() == 1


def test_a_cancelled_place_disappears_from_the_attendees_portal(dates):
    first, _, _ = dates
    booking = paid_by_invoice(first, seats=3)
    guest = booking.attendees.get(email="guest1.pat@example.com")
    assert list(customer_bookings(user=guest.user)) == [booking]
    attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser, initiator="customer")
    assert list(customer_bookings(user=guest.user)) == []
    assert Booking.objects.get(pk=booking.pk).seats == 2


def test_a_cancelled_place_is_offered_to_the_waiting_list(django_capture_on_commit_callbacks):
    from apps.bookings.models import WaitingListEntry, WaitingListOffer
    from apps.bookings.waitlist import waitlist_join

    session = SessionFactory(price=5000, capacity=2,
                             starts_at=timezone.now() + timedelta(days=20))
    booking = paid_by_invoice(session)
    entry = waitlist_join(session_id=session.pk, name="Wendy Wait", email="wendy@example.com",
                          seats=1)
    guest = booking.attendees.get(email="guest1.pat@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser, initiator="customer")
    offer = WaitingListOffer.objects.get(entry=entry)
    assert offer.seats == 1 and offer.status == WaitingListOffer.Status.LIVE
    assert WaitingListEntry.objects.get(pk=entry.pk).status == WaitingListEntry.Status.OFFERED
    assert seats_taken(session) == 2  # one booked, one held for the offer


def test_a_cancelled_place_gets_no_reminder_attendance_or_certificate(
        django_capture_on_commit_callbacks, settings):
    from apps.certificates.attendance import attendance_record
    from apps.certificates.models import Certificate
    from apps.operations.reminders import session_reminders

    session = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(days=20))
    booking = paid_by_invoice(session, seats=3)
    guest = booking.attendees.get(email="guest1.pat@example.com")
    attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser, initiator="customer")
    settings.SESSION_REMINDER_HOURS = 24 * 21
    with django_capture_on_commit_callbacks(execute=True):
        session_reminders()
    reminded = {c.recipient for c in emails("session_reminder")}
    assert reminded == {"pat@example.com", "guest2.pat@example.com"}

    CourseSession.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - timedelta(hours=8), ends_at=timezone.now() - timedelta(hours=2))
    everyone = list(Attendee.all_objects.filter(booking=booking).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        attendance_record(attendee_ids=everyone, attendance="attended", actor=None)
    booking.refresh_from_db()
    assert booking.status == "completed"
    assert set(Certificate.objects.values_list("attendee__email", flat=True)) == {
        "pat@example.com", "guest2.pat@example.com"}
    assert Attendee.all_objects.get(pk=guest.pk).attendance == "unknown"


def test_money_stays_exact_through_a_goodwill_refund_a_dearer_date_and_a_cancelled_place(
        dates, django_capture_on_commit_callbacks):
    from apps.refunds.services import refund_create

    first, dearer, _ = dates
    booking = paid_by_invoice(first, seats=3)          # 3 x £50 paid: £150
    payment = booking.payments.get()
    refund_create(payment=payment, amount=1000, initiator="staff", reason="Goodwill")
    booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=None,
                     initiator="staff")                # 3 x £60 = £180: £30 owed, not £40
    booking.refresh_from_db()
    assert booking_balance_due(booking=booking) == 3000
    guest = booking.attendees.get(email="guest1.pat@example.com")
    # The place's £60 was £30 paid and £30 owed: the customer gets back what was paid.
    refunds = attendee_cancel(attendee_id=guest.pk, actor=booking.purchaser,
                              initiator="customer")
    assert [r.amount for r in refunds] == [3000]
    booking.refresh_from_db()
    assert (booking.seats, booking.total_amount) == (2, 12000)
    assert booking_balance_due(booking=booking) == 0
    assert sum(r.amount for r in Refund.objects.all()) == 4000
