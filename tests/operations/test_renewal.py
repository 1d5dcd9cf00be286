"""Renewal: a certificate is renewed when its holder holds a seat, as an attendee (a paid
or completed booking), on a later session of the same course, or has a later certificate
for it. Renewed certificates get no "book your renewal" reminders (issue #24 item 1)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.services import AttendeeInput, BookingRequest, booking_create
from apps.certificates.services import certificate_issue
from apps.core.models import Communication
from apps.operations.reminders import certificate_expiry_reminders
from apps.payments.services import payment_record_manual
from tests.factories import CourseFactory, SessionFactory

pytestmark = pytest.mark.django_db


def book(session, *, purchaser, attendee, pay=True, now=None):
    now = now or session.starts_at - timedelta(days=2)
    booking = booking_create(request=BookingRequest(
        session_id=session.pk, purchaser_email=purchaser, purchaser_first_name="P",
        purchaser_last_name="Q", attendees=[AttendeeInput(name="A B", email=attendee)],
    ), now=now)
    if pay:
        payment_record_manual(booking=booking, actor=None, now=now)
    return booking


@pytest.fixture
def world():
    now = timezone.now()
    course = CourseFactory()
    first_run = SessionFactory(course=course, starts_at=now - timedelta(days=1000))
    later_past_run = SessionFactory(course=course, starts_at=now - timedelta(days=10))
    next_run = SessionFactory(course=course, starts_at=now + timedelta(days=20))
    other_course_run = SessionFactory(starts_at=now + timedelta(days=20))
    expiring = {}
    for who in ("attended", "booked", "for_colleague", "other_course", "pending", "nothing"):
        attendee = book(first_run, purchaser=f"{who}@example.com",
                        attendee=f"{who}@example.com").attendees.get()
        certificate = certificate_issue(attendee=attendee)
        certificate.expires_on = timezone.localdate(now) + timedelta(days=30)
        certificate.save(update_fields=["expires_on"])
        expiring[who] = certificate
    # came again ten days ago and was certified again
    again = book(later_past_run, purchaser="attended@example.com",
                 attendee="attended@example.com").attendees.get()
    certificate_issue(attendee=again)
    # booked and paid the renewal
    book(next_run, purchaser="booked@example.com", attendee="booked@example.com")
    # bought a seat on the next run for someone else: the holder holds no seat
    book(next_run, purchaser="for_colleague@example.com", attendee="colleague@example.com")
    book(other_course_run, purchaser="other_course@example.com",
         attendee="other_course@example.com")
    book(next_run, purchaser="pending@example.com", attendee="pending@example.com",
         pay=False, now=now)
    return {"now": now, "expiring": expiring, "next_run": next_run}


def test_renewed_certificates_get_no_renewal_reminder(world):
    certificate_expiry_reminders(now=world["now"])
    reminded = set(Communication.objects.filter(kind="certificate_expiry")
                   .values_list("recipient", flat=True))
    assert reminded == {"for_colleague@example.com", "other_course@example.com",
                        "pending@example.com", "nothing@example.com"}


def test_a_reminder_never_offers_to_book_what_the_holder_already_booked(world):
    certificate_expiry_reminders(now=world["now"])
    body = Communication.objects.get(kind="certificate_expiry",
                                     recipient="nothing@example.com").body
    assert f"/sessions/{world['next_run'].pk}/book/" in body
    assert not Communication.objects.filter(recipient="booked@example.com",
                                            body__contains="Book your renewal").exists()


def test_data_quality_does_not_flag_renewed_certificates_as_unreminded(world):
    from apps.operations.quality import certificates_expiring_unreminded

    certificate_expiry_reminders(now=world["now"])
    assert certificates_expiring_unreminded(now=world["now"]) == []


# --- the dashboard's renewal rate (issue #24 item 7) --------------------------------------

def test_dashboard_renewal_rate_counts_only_holders_who_hold_a_later_seat(admin_client):
    from datetime import UTC, date, datetime

    from django.urls import reverse

    from apps.certificates.selectors import RENEWAL_DEFINITION
    from apps.operations.dashboard import dashboard_figures
    from tests.operations.test_dashboard import booking, certificate, customer

    def utc(*args):
        return datetime(*args, tzinfo=UTC)

    now = utc(2026, 6, 17, 12)
    course = CourseFactory()
    first = SessionFactory(course=course, starts_at=utc(2023, 5, 10, 9), capacity=20)
    later = SessionFactory(course=course, starts_at=utc(2026, 6, 1, 9), capacity=20)
    other_course = SessionFactory(starts_at=utc(2026, 6, 1, 9), capacity=20)
    expired = date(2026, 5, 10)
    holders = [customer() for _ in range(6)]
    for holder in holders:
        certificate(holder, first, expires_on=expired)
    renewed_self, renewed_by_employer, completed, for_colleague, cancelled, elsewhere = holders
    booking(later, renewed_self, "paid", utc(2026, 5, 1), attendees=[renewed_self])
    booking(later, customer(), "paid", utc(2026, 5, 1), attendees=[renewed_by_employer])
    booking(later, completed, "completed", utc(2026, 5, 1), attendees=[completed])
    booking(later, for_colleague, "paid", utc(2026, 5, 1), attendees=[customer()])
    booking(later, cancelled, "cancelled", utc(2026, 5, 1), attendees=[cancelled])
    booking(other_course, elsewhere, "paid", utc(2026, 5, 1), attendees=[elsewhere])

    assert dashboard_figures(now=now)["renewal"] == {"expired": 6, "renewed": 3, "rate": 0.5}

    page = admin_client.get(reverse("staff-dashboard")).content.decode()
    assert RENEWAL_DEFINITION in page
