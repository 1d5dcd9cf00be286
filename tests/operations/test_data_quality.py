import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apps.bookings.models import Booking
from apps.certificates.services import certificate_issue
from apps.core.models import Communication
from apps.operations.quality import (
    CHECKS,
    certificates_expiring_unreminded,
    duplicate_users,
    orphaned_bookings,
    payments_on_unpaid_bookings,
    user_totals_drift,
)
from apps.payments.services import payment_record_manual
from apps.refunds.cancellation import booking_cancel
from apps.refunds.services import refund_create, refund_mark_failed
from apps.sessions.models import CourseSession
from apps.users.models import User
from tests.factories import SessionFactory, UserFactory, make_booking

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    """Run `manage.py` in its own process against the test database, for the real exit
    code. The rows it should see must be committed: use django_db(transaction=True)."""
    db = connection.settings_dict
    if database_url is None:
        credentials = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            credentials += ":" + quote(db["PASSWORD"], safe="")
        database_url = (f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:"
                        f"{db['PORT'] or 5432}/{db['NAME']}")
    env = {**os.environ, "DATABASE_URL": database_url, "TESTING": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
        text=True, timeout=120,
    )


def data_quality(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("data_quality", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def paid(session, email, seats=1, now=None):
    booking = make_booking(session, email=email, seats=seats, now=now)
    payment_record_manual(booking=booking, actor=None, now=now)
    booking.refresh_from_db()
    return booking


def certificate(session, email, *, expires_in_days):
    booking = paid(session, email, now=session.starts_at - timedelta(days=1))
    certificate = certificate_issue(attendee=booking.attendees.get())
    certificate.expires_on = timezone.localdate() + timedelta(days=expires_in_days)
    certificate.save(update_fields=["expires_on"])
    return certificate


def expiry_reminder(certificate, key=None, kind=Communication.Kind.CERTIFICATE_EXPIRY):
    Communication.objects.create(
        kind=kind, recipient=certificate.user.email, user=certificate.user,
        subject="Your certificate expires soon", body="…",
        dedupe_key=key if key is not None else f"{certificate.number}:30",
    )


def clean_data():
    """Healthy data of every kind the checks look at."""
    session = SessionFactory(capacity=20)
    paid(session, "good@example.com", seats=2)
    make_booking(session, email="fresh@example.com")  # pending, hold still running
    # A customer cancelling late: no refund by policy, the payment is kept on purpose.
    fee = paid(session, "late-canceller@example.com")
    booking_cancel(booking_id=fee.pk, reason="Cancelled by the customer", initiator="customer",
                   refund_amount=0)
    refunded = paid(session, "refunded@example.com")
    booking_cancel(booking_id=refunded.pk, reason="Staff cancelled")
    past = SessionFactory(starts_at=timezone.now() - timedelta(days=1000))
    reminded = certificate(past, "reminded@example.com", expires_in_days=10)
    expiry_reminder(reminded)
    certificate(past, "later@example.com", expires_in_days=31)
    UserFactory(email="ann.lee@example.com", first_name="Ann", last_name="Lee",
                phone="07700 900123")
    UserFactory(email="other.ann@example.com", first_name="Ann", last_name="Lee",
                phone="07700 900999")
    UserFactory(email="john.smith@example.com")
    UserFactory(email="johnsmith@example.com")  # dots only matter to Gmail


def test_duplicate_users_by_gmail_address_and_by_name_and_phone():
    a = UserFactory(email="john.smith@gmail.com")
    b = UserFactory(email="johnsmith+courses@googlemail.com")
    c = UserFactory(email="j.o.h.n.smith@gmail.com")
    UserFactory(email="john.smith@example.com")
    UserFactory(email="johnsmith+x@example.com")  # +tags only matter to Gmail
    d = UserFactory(email="ann@example.com", first_name="Ann", last_name="Lee",
                    phone="07700 900123")
    e = UserFactory(email="a.lee@work.example", first_name="ann", last_name="LEE ",
                    phone="07700-900-123")
    UserFactory(email="bob1@example.com", first_name="Bob", last_name="Ray", phone="")
    UserFactory(email="bob2@example.com", first_name="Bob", last_name="Ray", phone="")
    UserFactory(email="cat@example.com", first_name="Cat", last_name="Ray",
                phone="07700 900123")

    rows = duplicate_users()

    assert rows == [
        {"match": "email", "key": "johnsmith@gmail.com", "user_ids": [a.pk, b.pk, c.pk],
         "emails": [a.email, b.email, c.email]},
        {"match": "name and phone", "key": "ann lee 07700900123", "user_ids": [d.pk, e.pk],
         "emails": [d.email, e.email]},
    ]


def test_duplicate_users_ignore_case():
    # New addresses are stored lower-cased; older rows may not be.
    a = UserFactory(email="mary.jones@gmail.com")
    b = UserFactory(email="placeholder@example.com")
    User.objects.filter(pk=b.pk).update(email="MaryJones@GMAIL.com")
    UserFactory(email="Mary@Example.com")
    UserFactory(email="mary@example.org")

    assert duplicate_users() == [{
        "match": "email", "key": "maryjones@gmail.com", "user_ids": [a.pk, b.pk],
        "emails": ["mary.jones@gmail.com", "MaryJones@GMAIL.com"],
    }]


def test_orphaned_bookings_lapsed_holds_and_paid_on_cancelled_sessions():
    now = timezone.now()
    session = SessionFactory(capacity=20)
    lapsed = make_booking(session, email="lapsed@example.com")
    Booking.objects.filter(pk=lapsed.pk).update(hold_expires_at=now - timedelta(hours=1))
    just_lapsed = make_booking(session, email="just@example.com")
    Booking.objects.filter(pk=just_lapsed.pk).update(hold_expires_at=now - timedelta(minutes=1))
    no_hold = make_booking(session, email="nohold@example.com")
    Booking.objects.filter(pk=no_hold.pk).update(hold_expires_at=None)
    make_booking(session, email="fresh@example.com")
    cancelled_session = SessionFactory()
    stranded = paid(cancelled_session, "stranded@example.com")
    CourseSession.objects.filter(pk=cancelled_session.pk).update(status="cancelled")
    paid(session, "fine@example.com")

    rows = orphaned_bookings(now=now)

    assert [(row["reference"], row["status"], row["purchaser"]) for row in rows] == [
        (lapsed.reference, "pending", "lapsed@example.com"),
        (no_hold.reference, "pending", "nohold@example.com"),
        (stranded.reference, "paid", "stranded@example.com"),
    ]
    assert "hold ran out" in rows[0]["problem"]
    assert "cancelled" in rows[2]["problem"]


def test_payments_that_succeeded_on_bookings_that_are_not_paid():
    session = SessionFactory(capacity=20)
    stuck = paid(session, "stuck@example.com")
    Booking.objects.filter(pk=stuck.pk).update(status="pending")  # never moved to paid
    failed = paid(session, "failed-refund@example.com")
    (refund,) = booking_cancel(booking_id=failed.pk, reason="Staff cancelled")
    refund_mark_failed(refund_id=refund.pk, reason="Card closed")  # money still with us
    late = paid(session, "late@example.com")
    Booking.objects.filter(pk=late.pk).update(
        status="expired", cancelled_at=late.paid_at - timedelta(minutes=5))
    partly = paid(session, "partly@example.com")
    Booking.objects.filter(pk=partly.pk).update(status="expired")
    refund_create(payment=partly.payments.get(), amount=1000, initiator="staff")
    # Not problems: a kept cancellation fee, a full refund, an automatic refund under way.
    fee = paid(session, "fee@example.com")
    booking_cancel(booking_id=fee.pk, reason="Late", initiator="customer", refund_amount=0)
    half = paid(session, "half@example.com")
    booking_cancel(booking_id=half.pk, reason="Late", initiator="customer",
                   refund_amount=half.total_amount // 2)
    refunded = paid(session, "refunded@example.com")
    booking_cancel(booking_id=refunded.pk, reason="Staff cancelled")
    paid(session, "fine@example.com")

    rows = payments_on_unpaid_bookings()

    assert [(row["reference"], row["booking_status"], row["not_refunded"]) for row in rows] == [
        (stuck.reference, "pending", stuck.total_amount),
        (failed.reference, "cancelled", failed.total_amount),
        (late.reference, "expired", late.total_amount),
        (partly.reference, "expired", partly.total_amount - 1000),
    ]
    assert rows[0]["email"] == "stuck@example.com"
    assert rows[0]["payment_status"] == "succeeded"


def test_user_totals_that_disagree_with_the_ledger():
    session = SessionFactory()
    booking = paid(session, "drift@example.com")
    paid(session, "fine@example.com")
    User.objects.filter(pk=booking.purchaser_id).update(total_spent=1)

    assert user_totals_drift() == [{
        "user_id": booking.purchaser_id, "email": "drift@example.com",
        "stored_bookings": 1, "expected_bookings": 1,
        "stored_spent": 1, "expected_spent": booking.total_amount,
    }]


def test_certificates_expiring_within_30_days_without_an_expiry_reminder():
    past = SessionFactory(starts_at=timezone.now() - timedelta(days=1000))
    forgotten = certificate(past, "forgotten@example.com", expires_in_days=10)
    edge = certificate(past, "edge@example.com", expires_in_days=30)
    issued_only = certificate(past, "issued@example.com", expires_in_days=3)
    expiry_reminder(issued_only, key=issued_only.number,
                    kind=Communication.Kind.CERTIFICATE_ISSUED)
    reminded_90 = certificate(past, "r90@example.com", expires_in_days=20)
    expiry_reminder(reminded_90, key=f"{reminded_90.number}:90")
    certificate(past, "later@example.com", expires_in_days=31)
    certificate(past, "expired@example.com", expires_in_days=-1)
    revoked = certificate(past, "revoked@example.com", expires_in_days=5)
    revoked.revoked_at = timezone.now()
    revoked.save(update_fields=["revoked_at"])

    rows = certificates_expiring_unreminded()

    assert [row["number"] for row in rows] == [issued_only.number, forgotten.number,
                                               edge.number]
    assert rows[1]["email"] == "forgotten@example.com"
    assert rows[1]["expires_on"] == forgotten.expires_on.isoformat()


def test_a_reminder_keyed_by_a_longer_number_does_not_count():
    past = SessionFactory(starts_at=timezone.now() - timedelta(days=1000))
    short = certificate(past, "short@example.com", expires_in_days=10)
    expiry_reminder(short, key=f"{short.number}9:30")
    assert [row["number"] for row in certificates_expiring_unreminded()] == [short.number]


def test_clean_data_exits_0_with_a_summary():
    clean_data()
    code, out = data_quality()
    assert code == 0, out
    assert f"[1/{len(CHECKS)}] checking duplicate users…" in out
    assert out.count("  clean") == len(CHECKS)
    assert "Summary" in out
    assert re.search(r"^  total +0$", out, re.MULTILINE)


def plant_every_problem():
    clean_data()
    now = timezone.now()
    UserFactory(email="jane.doe@gmail.com")
    UserFactory(email="janedoe+spam@gmail.com")
    session = SessionFactory(capacity=20)
    lapsed = make_booking(session, email="lapsed@example.com")
    Booking.objects.filter(pk=lapsed.pk).update(hold_expires_at=now - timedelta(hours=1))
    stuck = paid(session, "stuck@example.com")
    Booking.objects.filter(pk=stuck.pk).update(status="expired")  # also drifts its totals
    past = SessionFactory(starts_at=now - timedelta(days=1000))
    forgotten = certificate(past, "forgotten@example.com", expires_in_days=7)
    return {"lapsed": lapsed, "stuck": stuck, "forgotten": forgotten}


def test_every_kind_of_problem_is_found_and_exits_1():
    planted = plant_every_problem()
    code, out = data_quality()
    assert code == 1
    assert "jane.doe@gmail.com, janedoe+spam@gmail.com" in out
    assert planted["lapsed"].reference in out
    assert planted["stuck"].reference in out
    assert "stuck@example.com" in out
    assert planted["forgotten"].number in out
    summary = out[out.index("Summary"):]
    assert re.search(r"^  duplicate users +1$", summary, re.MULTILINE)
    assert re.search(r"^  total +5$", summary, re.MULTILINE)


def test_json_is_one_valid_object_with_every_check():
    planted = plant_every_problem()
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("data_quality", "--json", stdout=out)
    assert error.value.returncode == 1
    report = json.loads(out.getvalue())
    assert list(report) == list(CHECKS)
    assert report["duplicate_users"][0]["emails"] == ["jane.doe@gmail.com",
                                                      "janedoe+spam@gmail.com"]
    assert report["orphaned_bookings"][0]["reference"] == planted["lapsed"].reference
    assert report["payments_on_unpaid_bookings"][0]["reference"] == planted["stuck"].reference
    assert report["user_totals_drift"][0]["email"] == "stuck@example.com"
    assert report["certificates_expiring_unreminded"][0]["number"] == planted["forgotten"].number


@pytest.mark.django_db(transaction=True)
def test_real_exit_codes_of_the_process():
    clean_data()
    result = run_manage("data_quality")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Summary" in result.stdout

    plant_every_problem_without_clean_data()
    result = run_manage("data_quality", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert sum(len(rows) for rows in report.values()) == 3
    assert f"Found 3 problem(s) in 3 of {len(CHECKS)} check(s)." in result.stderr


def plant_every_problem_without_clean_data():
    UserFactory(email="jane.doe@gmail.com")
    UserFactory(email="janedoe+spam@gmail.com")
    lapsed = make_booking(SessionFactory(), email="lapsed@example.com")
    Booking.objects.filter(pk=lapsed.pk).update(
        hold_expires_at=timezone.now() - timedelta(hours=1))
    User.objects.filter(email="good@example.com").update(total_bookings=7)


@pytest.fixture
def unused_port():
    from tests.conftest import free_port

    return free_port()


def test_exits_2_when_the_database_cannot_be_reached(unused_port):
    result = run_manage("data_quality",
                        database_url=f"postgres://postgres@127.0.0.1:{unused_port}/nothing")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Could not check duplicate users" in result.stderr
