"""Who a reminder reaches: never an erased person, and once per person even when their
address is corrected inside the reminder window (issue #24 items 4 and 5)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.certificates.services import certificate_issue
from apps.core.emails import communications_retry_failed
from apps.core.models import Communication
from apps.operations.erasure import user_anonymise
from apps.operations.reminders import certificate_expiry_reminders, session_reminders
from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def paid(session, email, seats=1):
    booking = make_booking(session, email=email, seats=seats)
    payment_record_manual(booking=booking, actor=None)
    return booking


def test_an_erased_attendee_gets_no_session_reminder():
    now = timezone.now()
    session = SessionFactory(starts_at=now + timedelta(hours=30))
    erased = paid(session, "erased@example.com").attendees.get()
    kept = paid(session, "kept@example.com").attendees.get()
    user_anonymise(user=erased.user)

    assert session_reminders(now=now) == 1
    assert list(Communication.objects.filter(kind="session_reminder")
                .values_list("recipient", flat=True)) == [kept.email]
    assert not Communication.objects.filter(kind="session_reminder",
                                            recipient__endswith="@deleted.invalid").exists()


def test_the_failed_email_job_does_not_retry_mail_to_an_erased_address(settings):
    stuck = Communication.objects.create(
        kind="session_reminder", recipient="deleted-7@deleted.invalid", subject="Reminder",
        body="x", dedupe_key="session:1", status=Communication.Status.FAILED, attempts=1)
    assert communications_retry_failed() == 0
    stuck.refresh_from_db()
    assert stuck.status == Communication.Status.FAILED and stuck.attempts == 1


def _correct_email(user, new_email):
    """What staff do in admin when a holder's address was mistyped: the account and its
    attendee rows take the corrected address."""
    user.email = new_email
    user.save(update_fields=["email"])
    user.attendances.update(email=new_email)


def test_correcting_an_attendees_email_inside_the_window_does_not_remind_twice():
    now = timezone.now()
    session = SessionFactory(starts_at=now + timedelta(hours=40))
    attendee = paid(session, "typo@exmaple.com").attendees.get()
    assert session_reminders(now=now) == 1

    _correct_email(attendee.user, "right@example.com")
    assert session_reminders(now=now + timedelta(minutes=15)) == 0
    assert Communication.objects.filter(kind="session_reminder").count() == 1


def test_correcting_a_holders_email_inside_the_window_does_not_remind_twice():
    now = timezone.now()
    past = SessionFactory(starts_at=now - timedelta(days=1000))
    attendee = make_booking(past, email="holder@exmaple.com",
                            now=past.starts_at - timedelta(days=1)).attendees.get()
    certificate = certificate_issue(attendee=attendee)
    certificate.expires_on = timezone.localdate(now) + timedelta(days=25)
    certificate.save(update_fields=["expires_on"])
    assert certificate_expiry_reminders(now=now) == 1

    _correct_email(attendee.user, "holder@example.com")
    assert certificate_expiry_reminders(now=now + timedelta(days=1)) == 0
    assert Communication.objects.filter(kind="certificate_expiry").count() == 1


def test_the_migration_keeps_earlier_duplicates_under_distinct_keys():
    """Rows the old rule let through (one person, one reminder, two addresses) survive the
    migration that adds the per-person constraint, all but the first under a new key."""
    import importlib

    from django.apps import apps
    from django.db import connection

    from tests.factories import UserFactory

    migration = importlib.import_module("apps.core.migrations.0004_communication_once_per_person")
    constraint = next(c for c in Communication._meta.constraints
                      if c.name == "communication_once_per_kind_user")
    person = UserFactory()
    with connection.schema_editor() as editor:
        editor.remove_constraint(Communication, constraint)
    rows = [Communication.objects.create(kind="certificate_expiry", recipient=address,
                                         user=person, subject="s", body="b",
                                         dedupe_key="CERT-1:30")
            for address in ("typo@exmaple.com", "right@example.com")]

    migration.mark_earlier_duplicates(apps, None)
    with connection.cursor() as cursor:  # check the deferred foreign keys before DDL
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with connection.schema_editor() as editor:
        editor.add_constraint(Communication, constraint)

    keys = [Communication.objects.get(pk=row.pk).dedupe_key for row in rows]
    assert keys == ["CERT-1:30", f"CERT-1:30#duplicate-{rows[1].pk}"]
