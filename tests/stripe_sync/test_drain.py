"""Stored events are processed by one drain task per slot instead of a task per event
(issue #22): the intake queues a drain only when its slot has none, a drain leaves alone
what another process holds, and an event left half done by a process that died is taken
again. Exactly-once effects are the services' own (tests/stripe_sync/test_webhooks.py)."""

import json
import threading
import time
from contextlib import contextmanager

import pytest
import redis
from celery.exceptions import Retry
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment, StripeEvent
from apps.stripe_sync import tasks
from apps.stripe_sync.webhooks import EVENT_LOCK_NAMESPACE, stripe_event_store
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import deliver, intent_event

pytestmark = pytest.mark.django_db


def paid_intents(count: int) -> list[Payment]:
    payments = []
    for n in range(count):
        booking = make_booking(SessionFactory(price=9500), seats=1)
        payments.append(Payment.objects.create(
            booking=booking, user=booking.purchaser, amount=9500, currency="GBP",
            stripe_payment_intent_id=f"pi_drain_{n}"))
    return payments


@pytest.fixture
def queued_not_run():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    yield redis.Redis.from_url(settings.CELERY_BROKER_URL)
    app.conf.task_always_eager = before
    app.control.purge()


def queued_task_names(broker) -> list[str]:
    return [json.loads(message)["headers"]["task"] for message in broker.lrange("celery", 0, -1)]


@contextmanager
def held_by_another_session(event_id: int):
    """Another session holds the event's lock until the block ends: its own task at
    work, a drain, or the backend of a process that died (closing the connection lets go)."""
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def other_session():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [EVENT_LOCK_NAMESPACE, event_id])
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()
            done.set()

    threading.Thread(target=other_session).start()
    assert locked.wait(10)
    try:
        yield
    finally:
        release.set()
        assert done.wait(10)


def drain_all() -> int:
    return sum(tasks.stripe_events_drain(slot=slot)
               for slot in range(settings.STRIPE_EVENT_DRAINS))


def test_a_storm_queues_one_drain_per_slot_which_processes_every_event(queued_not_run, client):
    payments = paid_intents(4)
    for payment in payments:
        for _ in range(2):  # two distinct events per payment, as Stripe may send
            response = deliver(client, intent_event(payment.stripe_payment_intent_id))
            assert response.status_code == 200
    assert sorted(queued_task_names(queued_not_run)) == (
        ["apps.stripe_sync.tasks.drain_stripe_events_task"] * settings.STRIPE_EVENT_DRAINS)
    from config.celery import app

    app.conf.task_always_eager = True  # the worker's turn (the fixture puts it back)
    assert drain_all() == 8
    assert StripeEvent.objects.filter(status="processed").count() == 8
    assert Booking.objects.filter(status="paid").count() == 4
    assert Communication.objects.filter(kind="booking_confirmation").count() == 4
    # Every slot's flag is cleared: the next delivery queues a drain again.
    assert all(cache.get(tasks._drain_flag(slot)) is None
               for slot in range(settings.STRIPE_EVENT_DRAINS))


def test_an_event_stored_while_the_flag_was_up_is_found_by_the_drains_last_look():
    payment = paid_intents(1)[0]
    stored = stripe_event_store(intent_event(payment.stripe_payment_intent_id))
    slot = stored % settings.STRIPE_EVENT_DRAINS
    cache.set(tasks._drain_flag(slot), 1)  # the intake saw a drain queued: queued nothing
    assert tasks.stripe_events_drain(slot=slot) == 1
    assert StripeEvent.objects.get(pk=stored).status == "processed"
    assert cache.get(tasks._drain_flag(slot)) is None


def test_a_long_backlog_is_drained_in_runs_that_queue_the_next(settings):
    settings.STRIPE_EVENT_DRAINS = 1
    payments = paid_intents(3)
    for payment in payments:
        stripe_event_store(intent_event(payment.stripe_payment_intent_id))
    # Eager: the next run is queued and runs at once, as a worker would take it later.
    assert tasks.stripe_events_drain(slot=0, run=2) == 2
    assert StripeEvent.objects.filter(status="processed").count() == 3


def test_an_event_left_half_done_is_taken_again_but_not_one_in_its_retries(settings):
    settings.STRIPE_EVENT_DRAINS = 1
    died, retrying = paid_intents(2)
    died_id = stripe_event_store(intent_event(died.stripe_payment_intent_id))
    retrying_id = stripe_event_store(intent_event(retrying.stripe_payment_intent_id))
    # A drain died after counting the attempt; the other event failed and waits for its
    # retry (the error is noted when it is handed to its task).
    StripeEvent.objects.filter(pk=died_id).update(attempts=1)
    StripeEvent.objects.filter(pk=retrying_id).update(attempts=1, last_error="RuntimeError: x")
    assert tasks.stripe_events_drain(slot=0) == 1
    assert StripeEvent.objects.get(pk=died_id).status == "processed"
    assert StripeEvent.objects.get(pk=retrying_id).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_a_drain_leaves_an_event_another_session_holds_to_its_own_task(settings,
                                                                      queued_not_run):
    settings.STRIPE_EVENT_DRAINS = 1
    held, free = paid_intents(2)
    held_id = stripe_event_store(intent_event(held.stripe_payment_intent_id))
    free_id = stripe_event_store(intent_event(free.stripe_payment_intent_id))
    with held_by_another_session(held_id):
        assert tasks.stripe_events_drain(slot=0) == 1
        assert StripeEvent.objects.get(pk=free_id).status == "processed"
        held_event = StripeEvent.objects.get(pk=held_id)
        assert (held_event.status, held_event.attempts) == ("pending", 0)
        queued = [json.loads(m) for m in queued_not_run.lrange("celery", 0, -1)]
        assert [m["headers"]["argsrepr"] for m in queued
                if m["headers"]["task"].endswith("process_stripe_event_task")] == [f"({held_id},)"]
    # Its task, once the other session let go, does what is left.
    # (disable_sync_subtasks: an earlier test's in-process worker leaves Celery believing
    # it runs inside a task, which forbids .get() on an eager result.)
    result = tasks.process_stripe_event_task.apply(args=(held_id,))
    assert result.get(disable_sync_subtasks=False) == "applied"
    assert StripeEvent.objects.get(pk=held_id).status == "processed"
    assert Booking.objects.filter(status="paid").count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_events_own_task_waits_a_bounded_time_for_its_lock_then_retries_later(
        monkeypatch):
    """A task never holds a worker process indefinitely behind another session's lock
    (a long drain batch, or the backend of a host that vanished): it gives up after the
    wait and retries with its backoff, the failure noted for staff."""
    held = paid_intents(1)[0]
    held_id = stripe_event_store(intent_event(held.stripe_payment_intent_id))
    monkeypatch.setattr("apps.stripe_sync.webhooks.LOCK_WAIT_SECONDS", 0.5)
    with held_by_another_session(held_id):
        started = time.monotonic()
        with pytest.raises(Retry, match="held by another session"):
            tasks.process_stripe_event_task.apply(args=(held_id,), throw=True)
        assert time.monotonic() - started < 5
        event = StripeEvent.objects.get(pk=held_id)
        assert event.status == "pending" and "held by another session" in event.last_error


def test_a_failed_event_whose_retry_cannot_be_queued_is_not_taken_again_in_the_run(
        settings, monkeypatch):
    """The broker is down and the event's handler fails: the drain leaves it for the
    sweeper instead of running the handler again and again in one run."""
    settings.STRIPE_EVENT_DRAINS = 1
    payment = paid_intents(1)[0]
    stored = stripe_event_store(intent_event(payment.stripe_payment_intent_id))
    runs = []

    def failing(*, event_id):
        runs.append(event_id)
        raise RuntimeError("Stripe is unreachable")

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks, "stripe_event_process", failing)
    monkeypatch.setattr(tasks.process_stripe_event_task, "apply_async", broker_down)
    tasks.stripe_events_drain(slot=0)
    assert runs == [stored]
    event = StripeEvent.objects.get(pk=stored)
    assert (event.status, event.attempts) == ("pending", 0)  # the sweeper's to queue
