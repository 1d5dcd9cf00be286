import re
from datetime import timedelta
from io import StringIO

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import call_command
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.certificates.models import Certificate
from apps.certificates.services import certificate_issue
from apps.operations.retention import (
    anonymise_old_payment_data,
    purge_activity_logs,
    purge_expired_certificates,
)
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from apps.users.models import ActivityLog, User
from tests.factories import SessionFactory, make_booking
from tests.operations.test_data_quality import run_manage

pytestmark = pytest.mark.django_db


def log_at(created_at, action="booking.paid"):
    return ActivityLog.objects.create(action=action, created_at=created_at)


def certificate_expiring(session, email, expires_on):
    booking = make_booking(session, email=email, now=session.starts_at - timedelta(days=1))
    certificate = certificate_issue(attendee=booking.attendees.get())
    Certificate.objects.filter(pk=certificate.pk).update(expires_on=expires_on)
    return certificate


def booking_paid_at(session, email, created_at, seats=2):
    """A booking with personal details and a card payment, both created at `created_at`."""
    booking = make_booking(session, email=email, seats=seats)
    payment = payment_record_manual(booking=booking, actor=None)
    Booking.objects.filter(pk=booking.pk).update(
        created_at=created_at, company_name="Acme Ltd",
        special_requirements="Wheelchair access, nut allergy")
    Payment.objects.filter(pk=payment.pk).update(
        created_at=created_at, card_brand="visa", card_last4="4242",
        failure_message="Your card was declined.")
    return booking


def snapshot():
    return {
        "logs": sorted(ActivityLog.objects.values_list("pk", flat=True)),
        "certificates": sorted(Certificate.objects.values_list("pk", flat=True)),
        "payments": sorted(Payment.objects.values_list(
            "pk", "card_brand", "card_last4", "failure_message", "amount", "currency",
            "status", "created_at", "succeeded_at")),
        "bookings": sorted(Booking.objects.values_list(
            "pk", "company_name", "special_requirements", "total_amount", "status",
            "created_at", "paid_at")),
        "attendees": sorted(Attendee.objects.values_list("pk", "name", "email")),
    }


@pytest.fixture
def now():
    return timezone.now()


def test_activity_logs_exactly_two_years_old_are_kept_a_day_older_are_deleted(now):
    boundary = log_at(now - relativedelta(years=2))
    older = log_at(now - relativedelta(years=2) - timedelta(days=1))
    recent = log_at(now - timedelta(days=30))

    assert purge_activity_logs(now=now, dry_run=True) == 1
    assert ActivityLog.objects.filter(pk=older.pk).exists()
    assert purge_activity_logs(now=now) == 1

    assert set(ActivityLog.objects.filter(pk__in=[boundary.pk, older.pk, recent.pk])
               .values_list("pk", flat=True)) == {boundary.pk, recent.pk}
    assert purge_activity_logs(now=now) == 0


def test_certificates_are_deleted_three_years_after_they_expire(now):
    today = timezone.localdate(now)
    past = SessionFactory(starts_at=now - timedelta(days=365 * 7))
    boundary = certificate_expiring(past, "boundary@example.com", today - relativedelta(years=3))
    older = certificate_expiring(
        past, "older@example.com", today - relativedelta(years=3) - timedelta(days=1))
    recent = certificate_expiring(past, "recent@example.com", today - timedelta(days=1))
    forever = certificate_expiring(past, "forever@example.com", None)

    assert purge_expired_certificates(now=now, dry_run=True) == 1
    assert Certificate.objects.count() == 4
    assert purge_expired_certificates(now=now) == 1

    assert set(Certificate.objects.values_list("pk", flat=True)) == {
        boundary.pk, recent.pk, forever.pk}
    assert not Certificate.objects.filter(pk=older.pk).exists()
    # The attendee (and its booking) stays: only the certificate is gone.
    assert Attendee.objects.filter(pk=older.attendee_id).exists()


def test_payment_data_older_than_seven_years_loses_the_personal_part_only(now):
    session = SessionFactory(capacity=20)
    old = booking_paid_at(session, "old@example.com",
                          now - relativedelta(years=7) - timedelta(days=1))
    boundary = booking_paid_at(session, "boundary@example.com", now - relativedelta(years=7))
    young = booking_paid_at(session, "young@example.com", now - timedelta(days=10))
    before = snapshot()

    assert anonymise_old_payment_data(now=now) == {"payments": 1, "bookings": 1,
                                                   "attendees": 2}

    payment = Payment.objects.get(booking=old)
    assert (payment.card_brand, payment.card_last4, payment.failure_message) == ("", "", "")
    old_before = next(row for row in before["payments"] if row[0] == payment.pk)
    assert (payment.amount, payment.currency, payment.status, payment.created_at,
            payment.succeeded_at) == old_before[4:]
    booking = Booking.objects.get(pk=old.pk)
    assert (booking.company_name, booking.special_requirements) == ("", "")
    booking_before = next(row for row in before["bookings"] if row[0] == old.pk)
    assert (booking.total_amount, booking.status, booking.created_at,
            booking.paid_at) == booking_before[3:]
    assert booking.status == "paid"
    assert sorted(booking.attendees.values_list("name", "email")) == sorted(
        ("Deleted person", f"deleted-attendee-{pk}@deleted.invalid")
        for pk in booking.attendees.values_list("pk", flat=True))
    # The people themselves are not this rule's business: their accounts stay.
    assert User.objects.filter(email="old@example.com").exists()

    for kept in (boundary, young):
        assert Payment.objects.get(booking=kept).card_last4 == "4242"
        assert Booking.objects.get(pk=kept.pk).company_name == "Acme Ltd"
        assert "Buyer One" in kept.attendees.values_list("name", flat=True)

    assert anonymise_old_payment_data(now=now) == {"payments": 0, "bookings": 0,
                                                   "attendees": 0}


def test_an_old_booking_keeps_its_details_while_a_payment_on_it_is_young(now):
    session = SessionFactory()
    booking = booking_paid_at(session, "late-payer@example.com", now - timedelta(days=10))
    Booking.objects.filter(pk=booking.pk).update(created_at=now - relativedelta(years=8))
    assert anonymise_old_payment_data(now=now) == {"payments": 0, "bookings": 0,
                                                   "attendees": 0}
    assert Booking.objects.get(pk=booking.pk).company_name == "Acme Ltd"


def everything_expired(now):
    log_at(now - relativedelta(years=3))
    log_at(now - timedelta(days=1))
    past = SessionFactory(starts_at=now - timedelta(days=365 * 9))
    certificate_expiring(past, "expired@example.com",
                         timezone.localdate(now) - relativedelta(years=4))
    booking_paid_at(SessionFactory(), "old@example.com", now - relativedelta(years=8))


def test_dry_run_changes_nothing_and_says_so(now):
    everything_expired(now)
    before = snapshot()
    out = StringIO()

    call_command("purge_expired_data", "--dry-run", stdout=out)

    assert snapshot() == before
    text = out.getvalue()
    assert text.startswith("Dry run: counting only, nothing will be changed.")
    assert "Summary (dry run: nothing was changed)" in text
    assert re.search(r"^  activity logs to delete +1$", text, re.MULTILINE)
    assert re.search(r"^  certificates to delete +1$", text, re.MULTILINE)
    assert re.search(r"^  attendees to anonymise +2$", text, re.MULTILINE)
    assert not ActivityLog.objects.filter(action="data.retention_purged").exists()


def test_the_command_purges_prints_counts_and_logs_the_run(now):
    everything_expired(now)
    out = StringIO()

    call_command("purge_expired_data", stdout=out)

    text = out.getvalue()
    assert "[1/3] activity logs created before" in text
    assert "[3/3] payment data older than" in text
    assert re.search(r"^  certificates deleted +1$", text, re.MULTILINE)
    assert re.search(r"^  payments anonymised +1$", text, re.MULTILINE)
    assert re.search(r"^  bookings anonymised +1$", text, re.MULTILINE)
    assert not Certificate.objects.exists()
    assert not ActivityLog.objects.filter(created_at__lt=now - relativedelta(years=2)).exists()
    run = ActivityLog.objects.get(action="data.retention_purged")
    assert run.data["certificates_deleted"] == 1 and run.data["payments_anonymised"] == 1

    out = StringIO()
    call_command("purge_expired_data", stdout=out)
    assert re.search(r"^  payments anonymised +0$", out.getvalue(), re.MULTILINE)


@pytest.mark.django_db(transaction=True)
def test_real_exit_codes_of_the_process(now):
    everything_expired(now)

    result = run_manage("purge_expired_data", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert Certificate.objects.count() == 1

    result = run_manage("purge_expired_data")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^  certificates deleted +1$", result.stdout, re.MULTILINE)
    assert not Certificate.objects.exists()

    result = run_manage("purge_expired_data", "--dry-run", "--now", "2020-01-01")
    assert result.returncode == 2
    assert "unrecognized arguments: --now" in result.stderr
