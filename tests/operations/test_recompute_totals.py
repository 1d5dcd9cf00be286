import re
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from apps.operations.totals import user_totals_expected, user_totals_fix
from apps.payments.services import payment_record_manual
from apps.refunds.cancellation import booking_cancel
from apps.refunds.services import refund_create
from apps.users.models import ActivityLog, User
from tests.factories import SessionFactory, UserFactory, make_booking
from tests.operations.test_data_quality import run_manage

pytestmark = pytest.mark.django_db


def paid(session, email, seats=1):
    booking = make_booking(session, email=email, seats=seats)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    return booking


def recompute(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("recompute_user_totals", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + f"\nCommandError: {error}"
    return 0, out.getvalue()


def plant(email, **totals):
    """Corrupt stored totals behind the services' back, with raw SQL."""
    sets = ", ".join(f"{field} = %s" for field in totals)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE users_user SET {sets} WHERE email = %s",  # noqa: S608
                       [*totals.values(), email])


def stored(email):
    return User.objects.values_list("total_bookings", "total_spent").get(email=email)


@pytest.fixture
def ledger():
    """Users whose totals the services kept: paid, partly refunded, cancelled and
    refunded, pending, and attendees who bought nothing."""
    session = SessionFactory(capacity=30, price=10000)
    paid(session, "two@example.com", seats=2)
    # Another session: one person holds one seat per session.
    second = paid(SessionFactory(capacity=30, price=10000, trainer=session.trainer),
                  "two@example.com")
    refund_create(payment=second.payments.get(), amount=2500, initiator="staff")
    cancelled = paid(session, "cancelled@example.com")
    booking_cancel(booking_id=cancelled.pk, reason="Staff cancelled")
    make_booking(session, email="pending@example.com")
    UserFactory(email="nobody-bought@example.com")


def test_expected_totals_come_from_the_ledger_and_match_what_the_services_kept(ledger):
    expected = user_totals_expected()
    by_email = dict(User.objects.values_list("email", "pk"))
    assert expected[by_email["two@example.com"]] == (2, 20000 + 10000 - 2500)
    assert expected[by_email["cancelled@example.com"]] == (0, 0)
    assert expected[by_email["pending@example.com"]] == (0, 0)
    assert expected[by_email["nobody-bought@example.com"]] == (0, 0)
    assert expected[by_email["guest1.two@example.com"]] == (0, 0)  # attendee, not purchaser
    assert len(expected) == User.objects.count()
    for pk, bookings, spent in User.objects.values_list("pk", "total_bookings", "total_spent"):
        assert expected[pk] == (bookings, spent)


def test_expected_totals_take_a_constant_number_of_queries(ledger, django_assert_num_queries):
    with django_assert_num_queries(1):
        everyone = user_totals_expected()
    some = list(everyone)[:2]
    with django_assert_num_queries(1):
        assert user_totals_expected(user_ids=some) == {pk: everyone[pk] for pk in some}


def test_no_drift_exits_0_with_a_summary(ledger):
    code, out = recompute()
    assert code == 0, out
    assert "[1/2] comparing the totals of 6 user(s) with the ledger…" in out
    assert re.search(r"^  drifted +0$", out, re.MULTILINE)


def test_drift_planted_with_raw_sql_is_reported_fixed_and_logged(ledger):
    plant("two@example.com", total_spent=999)
    plant("cancelled@example.com", total_bookings=3, total_spent=10000)

    code, out = recompute()

    assert code == 1
    assert "two@example.com: total_spent stored £9.99, expected £275.00 -> fixed" in out
    assert ("cancelled@example.com: total_bookings stored 3, expected 0; "
            "total_spent stored £100.00, expected £0.00 -> fixed") in out
    assert re.search(r"^  drifted +2$", out, re.MULTILINE)
    assert re.search(r"^  fixed +2$", out, re.MULTILINE)
    assert "CommandError: 2 user(s) had totals that disagreed with the ledger: fixed." in out
    assert stored("two@example.com") == (2, 27500)
    assert stored("cancelled@example.com") == (0, 0)
    log = ActivityLog.objects.get(action="user.totals_recomputed",
                                  user__email="cancelled@example.com")
    assert log.data == {"stored": {"total_bookings": 3, "total_spent": 10000},
                        "expected": {"total_bookings": 0, "total_spent": 0}}

    code, out = recompute()
    assert code == 0, out


def test_progress_is_shown_for_each_drifted_user(ledger):
    for email in ("two@example.com", "cancelled@example.com", "pending@example.com"):
        plant(email, total_bookings=9)
    code, out = recompute()
    assert code == 1
    assert "[2/2] fixing 3 drifted user(s)…" in out
    assert [line.split()[0] for line in out.splitlines() if "-> fixed" in line] == [
        "1/3", "2/3", "3/3"]


def test_dry_run_reports_and_changes_nothing(ledger):
    plant("two@example.com", total_bookings=5)
    code, out = recompute("--dry-run")
    assert code == 1
    assert ("two@example.com: total_bookings stored 5, expected 2 -> not fixed (dry run)"
            in out)
    assert re.search(r"^  fixed +0  \(dry run\)$", out, re.MULTILINE)
    assert "reported, not fixed (dry run)" in out
    assert stored("two@example.com") == (5, 27500)
    assert not ActivityLog.objects.filter(action="user.totals_recomputed").exists()
    assert recompute("--dry-run")[0] == 1


def test_one_user_only(ledger):
    plant("two@example.com", total_bookings=5)
    plant("cancelled@example.com", total_bookings=5)
    code, out = recompute("--user", "Cancelled@Example.com")
    assert code == 1
    assert "comparing the totals of 1 user(s)" in out
    assert stored("cancelled@example.com") == (0, 0)
    assert stored("two@example.com") == (5, 27500)
    assert recompute("--user", "cancelled@example.com")[0] == 0


def test_an_unknown_user_is_a_bad_argument(ledger):
    with pytest.raises(CommandError) as error:
        call_command("recompute_user_totals", "--user", "nobody@example.com", stdout=StringIO())
    assert error.value.returncode == 2
    assert str(error.value) == "No user has the email address 'nobody@example.com'."


@pytest.mark.django_db(transaction=True)
def test_real_exit_codes_of_the_process(ledger):
    plant("two@example.com", total_spent=1)

    result = run_manage("recompute_user_totals", "--dry-run")
    assert result.returncode == 1, result.stdout + result.stderr
    assert stored("two@example.com") == (2, 1)

    result = run_manage("recompute_user_totals")
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("two@example.com: total_spent stored £0.01, expected £275.00 -> fixed"
            in result.stdout)
    assert stored("two@example.com") == (2, 27500)

    result = run_manage("recompute_user_totals")
    assert result.returncode == 0, result.stdout + result.stderr

    result = run_manage("recompute_user_totals", "--user", "nobody@example.com")
    assert result.returncode == 2
    assert "No user has the email address 'nobody@example.com'." in result.stderr

    result = run_manage("recompute_user_totals", "--frobnicate")
    assert result.returncode == 2
    assert "unrecognized arguments: --frobnicate" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_fix_waits_for_a_payment_being_recorded_and_counts_it_once():
    """The fix locks the user row, then reads the ledger: a payment whose transaction has
    already added to the totals is waited for, and then seen, never counted twice."""
    session = SessionFactory(capacity=10, price=10000)
    paid(session, "racer@example.com")
    pending = make_booking(SessionFactory(capacity=10, price=10000), email="racer@example.com")
    plant("racer@example.com", total_spent=1)
    user_id = User.objects.get(email="racer@example.com").pk
    updated, release = threading.Event(), threading.Event()
    results = {}

    def pay():
        try:
            with transaction.atomic():
                payment_record_manual(booking=pending, actor=None)  # totals updated, row locked
                updated.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def fix():
        try:
            results["drift"] = user_totals_fix(user_id=user_id)
        finally:
            connection.close()

    payer = threading.Thread(target=pay)
    payer.start()
    assert updated.wait(timeout=30)
    fixer = threading.Thread(target=fix)
    fixer.start()
    fixer.join(timeout=1)
    assert fixer.is_alive(), "the fix should wait for the payment's transaction"
    release.set()
    payer.join(timeout=30)
    fixer.join(timeout=30)

    drift = results["drift"]
    assert (drift.stored_spent, drift.expected_spent) == (1 + 10000, 20000)
    assert (drift.stored_bookings, drift.expected_bookings) == (2, 2)
    assert stored("racer@example.com") == (2, 20000)
    assert user_totals_expected(user_ids=[user_id]) == {user_id: (2, 20000)}
