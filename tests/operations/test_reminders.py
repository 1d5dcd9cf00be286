from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.certificates.services import certificate_issue, certificate_revoke
from apps.core.models import Communication
from apps.operations.reminders import (
    certificate_expiry_reminders,
    hold_expiry_reminders,
    session_reminders,
)
from apps.payments.services import payment_record_manual
from apps.refunds.cancellation import booking_cancel
from tests.bookings.test_concurrency import run_in_threads
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def paid(session, email, seats=1):
    booking = make_booking(session, email=email, seats=seats)
    payment_record_manual(booking=booking, actor=None)
    return booking


def test_session_reminders_go_to_each_attendee_inside_the_window_only():
    now = timezone.now()
    soon = SessionFactory(starts_at=now + timedelta(hours=47, minutes=59))
    edge = SessionFactory(starts_at=now + timedelta(hours=48))
    later = SessionFactory(starts_at=now + timedelta(hours=48, minutes=1))
    group = paid(soon, "boss@example.com", seats=2)
    paid(edge, "edge@example.com")
    paid(later, "later@example.com")
    make_booking(soon, email="unpaid@example.com")  # pending: no reminder
    cancelled = paid(soon, "cancelled@example.com")
    booking_cancel(booking_id=cancelled.pk, reason="x")

    assert session_reminders(now=now) == 3
    recipients = set(Communication.objects.filter(kind="session_reminder")
                     .values_list("recipient", flat=True))
    assert recipients == {a.email for a in group.attendees.all()} | {"edge@example.com"}
    body = Communication.objects.filter(kind="session_reminder").first().body
    assert soon.location.address in body or edge.location.address in body
    assert session_reminders(now=now) == 0  # the task running again


def test_certificate_expiry_reminders_at_90_and_30_days():
    now = timezone.now()
    today = timezone.localdate(now)
    past = SessionFactory(starts_at=now - timedelta(days=1000))
    renewal = SessionFactory(course=past.course, starts_at=now + timedelta(days=20))
    certificates = {}
    for days in (91, 90, 31, 30, 29, -1):
        attendee = make_booking(past, email=f"c{days}@example.com",
                                now=past.starts_at - timedelta(days=1)).attendees.get()
        certificate = certificate_issue(attendee=attendee)
        certificate.expires_on = today + timedelta(days=days)
        certificate.save(update_fields=["expires_on"])
        certificates[days] = certificate
    revoked = certificates[29]
    certificate_revoke(certificate=revoked, reason="x")

    assert certificate_expiry_reminders(now=now) == 3  # 90, 31 (90 window), 30
    keys = dict(Communication.objects.filter(kind="certificate_expiry")
                .values_list("recipient", "dedupe_key"))
    assert keys == {
        "c90@example.com": f"{certificates[90].number}:90",
        "c31@example.com": f"{certificates[31].number}:90",
        "c30@example.com": f"{certificates[30].number}:30",
    }
    body = Communication.objects.get(recipient="c30@example.com").body
    assert f"/sessions/{renewal.pk}/book/" in body
    assert certificate_expiry_reminders(now=now) == 0
    # two days later the 91-day one enters the 90-day window and the 31-day one the
    # 30-day window: one more each, once
    assert certificate_expiry_reminders(now=now + timedelta(days=2)) == 2
    assert certificate_expiry_reminders(now=now + timedelta(days=2)) == 0


def test_hold_reminder_once_before_the_hold_runs_out():
    now = timezone.now()
    booking = make_booking(SessionFactory(), now=now - timedelta(minutes=11))
    make_booking(SessionFactory(), email="fresh@example.com", now=now)
    assert hold_expiry_reminders(now=now) == 1
    assert hold_expiry_reminders(now=now) == 0
    assert Communication.objects.get(kind="hold_expired").booking_id == booking.pk


def test_send_reminders_command_prints_a_summary(capsys):
    paid(SessionFactory(starts_at=timezone.now() + timedelta(hours=5)), "x@example.com")
    call_command("send_reminders")
    out = capsys.readouterr().out
    assert "session reminders" in out and "1 sent" in out and "total" in out


def test_beat_schedule_has_every_periodic_task(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"apps.payments.holds.release_expired_holds_task",
            "apps.operations.tasks.send_reminders_task",
            "apps.stripe_sync.tasks.sweep_stripe_events_task",
            "apps.stripe_sync.tasks.reconcile_payments_task"} <= tasks


@pytest.mark.django_db(transaction=True)
def test_reminders_running_concurrently_send_nothing_twice():
    now = timezone.now()
    session = SessionFactory(starts_at=now + timedelta(hours=3))
    for n in range(5):
        paid(session, f"p{n}@example.com")
    results = run_in_threads(6, lambda i: session_reminders(now=now))
    assert sum(value for outcome, value in results if outcome == "ok") == 5
    assert all(outcome == "ok" for outcome, _ in results)
    assert Communication.objects.filter(kind="session_reminder").count() == 5
