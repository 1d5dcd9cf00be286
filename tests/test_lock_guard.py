"""The lock guard (tests/lock_guard.py) itself: it fires on a Redis or Stripe call made
while a row lock is held, and only then."""

import pytest
import stripe
from django.core.cache import cache
from django.db import transaction

from apps.sessions.models import CourseSession
from tests.factories import SessionFactory
from tests.lock_guard import LockHeldDuringNetworkCall, takes_row_lock

pytestmark = pytest.mark.django_db


def test_redis_inside_a_locked_transaction_raises(lock_guard):
    session = SessionFactory()
    with pytest.raises(LockHeldDuringNetworkCall, match="Redis"):  # noqa: PT012
        with transaction.atomic():
            CourseSession.objects.select_for_update().get(pk=session.pk)
            cache.get("anything")
    lock_guard.violations.clear()  # seen, and expected: the test itself passes


def test_a_seat_update_counts_as_a_lock(lock_guard):
    session = SessionFactory()
    with pytest.raises(LockHeldDuringNetworkCall):  # noqa: PT012
        with transaction.atomic():
            CourseSession.objects.filter(pk=session.pk).update(seats_taken=1)
            cache.set("k", 1)
    lock_guard.violations.clear()


def test_stripe_inside_a_locked_transaction_raises(lock_guard):
    session = SessionFactory()  # the guard stops the request before it leaves
    with pytest.raises(LockHeldDuringNetworkCall, match="Stripe"):  # noqa: PT012
        with transaction.atomic():
            CourseSession.objects.select_for_update().get(pk=session.pk)
            stripe.Customer.retrieve("cus_x", api_key="sk_test_x")  # pragma: allowlist secret
    lock_guard.violations.clear()


def test_redis_after_the_commit_or_without_a_lock_is_fine(lock_guard):
    session = SessionFactory()
    with transaction.atomic():
        CourseSession.objects.filter(pk=session.pk).values("pk").first()  # no lock
        cache.set("k", 1)
    with transaction.atomic():
        CourseSession.objects.select_for_update().get(pk=session.pk)
    cache.get("k")  # the block that held the lock has ended
    assert not lock_guard.violations


def test_what_counts_as_taking_a_row_lock():
    assert takes_row_lock('SELECT * FROM "bookings_booking" WHERE id = 1 FOR UPDATE OF "x"')
    assert takes_row_lock('SELECT 1 FROM "course_sessions_coursesession" FOR NO KEY UPDATE')
    assert takes_row_lock('UPDATE "payments_payment" SET "status" = %s')
    assert takes_row_lock('DELETE FROM "refunds_refund" WHERE id = 1')
    assert not takes_row_lock('INSERT INTO "users_activitylog" ("action") VALUES (%s)')
    assert not takes_row_lock('UPDATE "core_communication" SET "status" = %s')
    assert not takes_row_lock('SELECT * FROM "bookings_booking"')
