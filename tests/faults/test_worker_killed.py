"""A Celery worker killed with SIGKILL in the middle of processing a Stripe webhook.

Caused for real: a real `celery worker` process on the real Redis broker and the test
database, a signed `payment_intent.succeeded` webhook posted to the real view (which
enqueues on the broker), and a row lock taken by the test on its own PostgreSQL connection
so the worker is stopped at a known point inside the task. The worker is then killed with
SIGKILL, the lock released, and the redelivered task must apply the payment exactly once:
one `payment.succeeded`, the purchaser's total counted once, one confirmation email per
recipient as received by a real SMTP server.

Two deaths, two redelivery paths (see "Redelivery after a lost worker" in settings):

- the prefork pool child dies (what the OOM killer does): its parent requeues the message
  at once (`task_reject_on_worker_lost`), with the production visibility timeout;
- the whole worker dies (lost host, container killed) after the payment was committed but
  before the event was marked processed: Redis hands the message to a new worker after the
  visibility timeout, lowered to 3 s here.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller
from django.db import connection

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment, PaymentEvent, StripeEvent
from apps.users.models import User
from tests.conftest import BASE_DIR, free_port
from tests.factories import SessionFactory, make_booking
from tests.faults.processes import child_pids
from tests.integration.conftest import (
    WorkerProcess,
    _database_url,
    celery_broker,  # noqa: F401  (fixture: the in-process app sends to a flushed Redis DB)
    wait_for,
)
from tests.payments.helpers import deliver, intent_event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PRICE = 9500
SEATS = 2


class SmtpSink:
    """A real SMTP server (aiosmtpd) that keeps who got which subject."""

    def __init__(self):
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        from email import message_from_bytes

        subject = message_from_bytes(envelope.content).get("Subject", "")
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.received.append((recipient, subject))
        return "250 OK"

    def per_recipient(self) -> Counter:
        with self.lock:
            return Counter(recipient for recipient, _ in self.received)


@pytest.fixture(scope="module")
def smtp_sink():
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()


@pytest.fixture
def workers(celery_broker, smtp_sink, tmp_path):  # noqa: F811
    """Start real workers on demand; every one still running is killed at the end."""
    started: list[WorkerProcess] = []
    _, email_url = smtp_sink

    def start(name: str, *, pool: list[str], env: dict | None = None) -> WorkerProcess:
        log_path = tmp_path / f"{name}.log"
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info",
                   *pool, "-Q", "celery", "-n", f"{name}-{os.getpid()}@localhost",
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]
        full_env = {
            **os.environ,
            "DATABASE_URL": _database_url(connection.settings_dict),
            "REDIS_URL": celery_broker, "CELERY_BROKER_URL": celery_broker,
            "CELERY_TASK_ALWAYS_EAGER": "0", "TESTING": "1", "EMAIL_URL": email_url,
            "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **(env or {}),
        }
        with open(log_path, "wb") as log:
            # Its own process group: "the whole worker" is the parent and its pool children.
            process = subprocess.Popen(command, cwd=BASE_DIR, env=full_env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        worker = WorkerProcess(process, log_path)
        started.append(worker)

        def ready():
            worker.check_alive()
            return " ready." in worker.log()

        wait_for(ready, what=f"worker {name} to report ready", diagnostics=worker.tail)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)


def locker_connection() -> psycopg.Connection:
    """A PostgreSQL session of the test's own, beside Django's, to hold row locks."""
    return psycopg.connect(_database_url(connection.settings_dict), autocommit=False)


def backends_blocked_by(locker: psycopg.Connection) -> list[int]:
    """PostgreSQL backends (the worker's) waiting, directly or behind another waiter, for
    a lock this session holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE blocked(pid) AS ("
            " SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
            " UNION SELECT a.pid FROM pg_stat_activity a JOIN blocked b"
            " ON b.pid = ANY(pg_blocking_pids(a.pid))"
            ") SELECT pid FROM blocked", [locker.info.backend_pid])
        return [row[0] for row in cursor.fetchall()]


def lock_row(locker: psycopg.Connection, model, pk: int, mode: str = "UPDATE") -> None:
    table = model._meta.db_table
    locker.execute(f'SELECT 1 FROM "{table}" WHERE id = %s FOR {mode}', [pk])  # noqa: S608


def paid_booking_with_webhook():
    """A pending booking whose card payment Stripe reports as succeeded by webhook."""
    booking = make_booking(SessionFactory(price=PRICE), seats=SEATS)
    payment = Payment.objects.create(booking=booking, user=booking.purchaser,
                                     amount=booking.total_amount, stripe_payment_intent_id=
                                     f"pi_killed_{booking.pk}")
    event = intent_event(payment.stripe_payment_intent_id, amount=booking.total_amount)
    return booking, payment, event


def broker_settled(broker_url: str) -> bool:
    """Nothing waiting in the queue and nothing delivered but unacknowledged."""
    client = redis.Redis.from_url(broker_url)
    try:
        return client.llen("celery") == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def assert_applied_once(booking, payment, sink, broker_url) -> dict:
    expected = {booking.purchaser.email, *(a.email for a in booking.attendees.all())}

    def emails_delivered():
        received = sink.per_recipient()
        return received if set(received) >= expected else None

    def diagnostics():
        return (f"smtp: {sink.received}\ncommunications: "
                f"{list(Communication.objects.values_list('recipient', 'status'))}")

    wait_for(emails_delivered, what=f"a confirmation email to each of {sorted(expected)}",
             diagnostics=diagnostics)
    wait_for(lambda: broker_settled(broker_url), what="the broker queue to be empty")
    booking.refresh_from_db()
    payment.refresh_from_db()
    purchaser = User.objects.get(pk=booking.purchaser_id)
    assert booking.status == Booking.Status.PAID
    assert payment.status == Payment.Status.SUCCEEDED
    assert purchaser.total_spent == PRICE * SEATS  # counted once
    assert purchaser.total_bookings == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.succeeded").count() == 1
    confirmations = Communication.objects.filter(
        booking=booking, kind=Communication.Kind.BOOKING_CONFIRMATION)
    assert sorted(confirmations.values_list("recipient", "status")) == sorted(
        (email, Communication.Status.SENT) for email in expected)
    assert sink.per_recipient() == Counter({email: 1 for email in expected})
    return {"smtp": dict(sink.per_recipient())}


def test_pool_child_killed_inside_the_payment_transaction_is_redelivered_at_once(
        client, workers, smtp_sink, celery_broker):  # noqa: F811
    sink, _ = smtp_sink
    sink.received.clear()
    worker = workers("child-killed", pool=["--pool", "prefork", "--concurrency", "1"])
    booking, payment, event = paid_booking_with_webhook()

    locker = locker_connection()
    try:
        lock_row(locker, Booking, booking.pk)
        assert deliver(client, event).status_code == 200
        stored = StripeEvent.objects.get(stripe_id=event["id"])
        first = wait_for(lambda: backends_blocked_by(locker),
                         what="the worker to wait for the booking row inside the task",
                         diagnostics=worker.tail)
        children = child_pids(worker.process.pid)
        assert len(children) == 1, children
        killed_at = time.monotonic()
        os.kill(children[0], signal.SIGKILL)

        # The parent sees its child die and requeues the message; a new child takes it and
        # waits for the same lock (beside the orphaned backend of the dead child).
        wait_for(lambda: len(backends_blocked_by(locker)) == 2,
                 what="the redelivered task to reach the booking lock again",
                 diagnostics=worker.tail)
        redelivered_after = time.monotonic() - killed_at
        assert "WorkerLostError" in worker.log(), worker.tail()
        # Nothing of the killed attempt is visible: it never committed.
        payment.refresh_from_db()
        assert payment.status == Payment.Status.REQUIRES_PAYMENT
        assert User.objects.get(pk=booking.purchaser_id).total_spent == 0
    finally:
        locker.rollback()
        locker.close()

    processed = wait_for(lambda: StripeEvent.objects.filter(
        pk=stored.pk, status=StripeEvent.Status.PROCESSED).first(),
        what="the redelivered event to be processed", diagnostics=worker.tail)
    observed = assert_applied_once(booking, payment, sink, celery_broker)
    assert processed.attempts == 2  # the killed run and the redelivered one
    worker.check_alive()  # the worker itself survived its child
    print(f"\nobserved: child killed (backend {first}), redelivered after "
          f"{redelivered_after:.2f}s, attempts={processed.attempts}, {observed}")


def test_whole_worker_killed_after_the_payment_committed_is_redelivered_to_a_new_worker(
        client, workers, smtp_sink, celery_broker):  # noqa: F811
    sink, _ = smtp_sink
    sink.received.clear()
    # Solo pool: one process, whose event loop (and so its own redelivery sweep) is
    # stopped while the task runs, as a dead worker's would be.
    short = {"CELERY_VISIBILITY_TIMEOUT": "3"}
    first_worker = workers("killed", pool=["--pool", "solo"], env=short)
    booking, payment, event = paid_booking_with_webhook()

    booking_lock, event_lock = locker_connection(), locker_connection()
    try:
        lock_row(booking_lock, Booking, booking.pk)
        assert deliver(client, event).status_code == 200
        stored = StripeEvent.objects.get(stripe_id=event["id"])
        wait_for(lambda: backends_blocked_by(booking_lock),
                 what="the worker to wait for the booking row", diagnostics=first_worker.tail)
        # Hold the event row too, then let the payment transaction go: the worker commits
        # the payment (and queues the emails) and stops when it marks the event processed.
        # (NO KEY UPDATE: rows referencing the event may still be inserted.)
        lock_row(event_lock, StripeEvent, stored.pk, mode="NO KEY UPDATE")
        booking_lock.rollback()
        orphans = wait_for(lambda: backends_blocked_by(event_lock),
                           what="the worker to stop before marking the event processed",
                           diagnostics=first_worker.tail)
        payment.refresh_from_db()
        assert payment.status == Payment.Status.SUCCEEDED  # committed before the kill
        assert Communication.objects.filter(booking=booking,
                                            status=Communication.Status.QUEUED).count() == 2

        os.killpg(first_worker.process.pid, signal.SIGKILL)
        first_worker.process.wait(timeout=10)
        killed_at = time.monotonic()
        # Its PostgreSQL backend would finish the UPDATE once the lock goes and only then
        # notice the client is gone; end it as the server does when it notices first.
        with connection.cursor() as cursor:
            for pid in orphans:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        booking_lock.close()
        event_lock.rollback()
        event_lock.close()

    stored.refresh_from_db()
    assert stored.status == StripeEvent.Status.PENDING and stored.attempts == 1
    assert sink.received == []  # the dead worker sent nothing

    second_worker = workers("replacement", pool=["--pool", "solo"], env=short)
    processed = wait_for(lambda: StripeEvent.objects.filter(
        pk=stored.pk, status=StripeEvent.Status.PROCESSED).first(),
        what="the new worker to process the restored event", diagnostics=second_worker.tail)
    redelivered_after = time.monotonic() - killed_at
    observed = assert_applied_once(booking, payment, sink, celery_broker)
    assert processed.attempts == 2
    # The second run found the money already counted and only recorded that it came again.
    assert PaymentEvent.objects.filter(payment=payment,
                                       kind="payment.event_after_success").count() == 1
    print(f"\nobserved: worker killed, processed by the new worker {redelivered_after:.2f}s "
          f"after the kill, attempts={processed.attempts}, {observed}")
