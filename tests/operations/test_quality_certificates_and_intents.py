"""The data-quality checks added with issue #20 item 5: attendees who attended without a
certificate, and Stripe PaymentIntents left open on bookings that died."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.services import booking_transition
from apps.certificates.attendance import attendance_record
from apps.certificates.models import Certificate
from apps.operations.quality import (
    CHECKS,
    attended_without_certificate,
    open_intents_on_dead_bookings,
)
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_both_checks_run_with_the_others():
    assert "attended_without_certificate" in CHECKS
    assert "open_intents_on_dead_bookings" in CHECKS


def attended(*, ended_ago: timedelta, email: str, validity_months=36, issue=None):
    """A paid booking on a finished session, its attendee marked attended (which makes the
    booking completed); `issue` runs the certificate task queued after commit."""
    ends_at = timezone.now() - ended_ago
    session = SessionFactory(starts_at=ends_at - timedelta(hours=6), ends_at=ends_at,
                             course__validity_months=validity_months)
    booking = make_booking(session, email=email, now=session.starts_at - timedelta(days=7))
    payment_record_manual(booking=booking, actor=None, now=session.starts_at - timedelta(days=7))
    attendee = booking.attendees.get()
    if issue is not None:
        with issue(execute=True):
            attendance_record(attendee_ids=[attendee.pk], attendance="attended")
    else:  # the issuing task never ran (the broker was down, say)
        attendance_record(attendee_ids=[attendee.pk], attendance="attended")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED
    return attendee


def test_an_attendee_who_attended_without_a_certificate_is_reported():
    missed = attended(ended_ago=timedelta(days=2), email="missed@example.com")
    [row] = attended_without_certificate()
    assert row["attendee_id"] == missed.pk
    assert row["email"] == "missed@example.com"
    assert row["reference"] == missed.booking.reference


def test_attendees_with_certificates_or_within_the_grace_day_are_clean(
        django_capture_on_commit_callbacks):
    attended(ended_ago=timedelta(days=2), email="issued@example.com",
             issue=django_capture_on_commit_callbacks)
    assert Certificate.objects.filter(attendee__email="issued@example.com").exists()
    attended(ended_ago=timedelta(hours=3), email="just-finished@example.com")
    # Certificates from long ago that the retention policy deleted are not missing.
    attended(ended_ago=timedelta(days=365 * 7), email="purged@example.com")
    # A revoked certificate still exists: staff revoked it on purpose.
    revoked = attended(ended_ago=timedelta(days=5), email="revoked@example.com",
                       issue=django_capture_on_commit_callbacks)
    Certificate.objects.filter(attendee=revoked).update(revoked_at=timezone.now(),
                                                        revoked_reason="Did not attend")
    assert attended_without_certificate() == []


def dead_booking_with_intent(*, email: str, to: str, died_ago: timedelta,
                             status=Payment.Status.REQUIRES_PAYMENT, intent="pi_open"):
    session = SessionFactory()
    booking = make_booking(session, email=email)
    payment = Payment.objects.create(booking=booking, user=booking.purchaser,
                                     amount=booking.total_amount, currency=booking.currency,
                                     stripe_payment_intent_id=intent, status=status)
    booking_transition(booking_id=booking.pk, to=to, now=timezone.now() - died_ago)
    return payment


@pytest.mark.parametrize("to", [Booking.Status.EXPIRED, Booking.Status.CANCELLED])
def test_an_open_intent_on_a_dead_booking_is_reported(to):
    payment = dead_booking_with_intent(email="open@example.com", to=to,
                                       died_ago=timedelta(hours=2))
    [row] = open_intents_on_dead_bookings()
    assert row["payment_id"] == payment.pk
    assert row["payment_intent"] == "pi_open"
    assert row["booking_status"] == to
    assert row["email"] == "open@example.com"


def test_cancelled_intents_live_bookings_and_fresh_deaths_are_clean():
    dead_booking_with_intent(email="cancelled@example.com", to=Booking.Status.EXPIRED,
                             died_ago=timedelta(hours=2), status=Payment.Status.CANCELED,
                             intent="pi_cancelled")
    dead_booking_with_intent(email="failed@example.com", to=Booking.Status.CANCELLED,
                             died_ago=timedelta(hours=2), status=Payment.Status.FAILED,
                             intent="pi_failed")
    # The cancel task is still within its grace period.
    dead_booking_with_intent(email="fresh@example.com", to=Booking.Status.EXPIRED,
                             died_ago=timedelta(minutes=1), intent="pi_fresh")
    # An open intent on a booking that still holds its seats is a customer paying.
    live = make_booking(SessionFactory(), email="paying@example.com")
    Payment.objects.create(booking=live, user=live.purchaser, amount=live.total_amount,
                           currency=live.currency, stripe_payment_intent_id="pi_live",
                           status=Payment.Status.REQUIRES_ACTION)
    assert open_intents_on_dead_bookings() == []
