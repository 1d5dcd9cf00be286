"""Fixtures for the integration suite: a real Celery worker process on a real Redis broker,
the real localstripe process (tests/conftest.py) and pytest-django's live server receiving
its webhooks. Nothing here is mocked.

Layout of one test run:

    test process ──SDK──▶ localstripe ──signed webhook──▶ live_server (thread in the
    test process) ──delay()──▶ Redis broker DB ──▶ worker process ──▶ test database

The in-process Celery app is switched from eager to the broker for this package only, and
restored afterwards, so that the webhook view and `delay_on_commit` really enqueue.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
import requests

from tests.conftest import BASE_DIR, register_fake_stripe_webhook, reset_celery_connections

WAIT_SECONDS = 30.0
WORKER_NAME = f"integration-{os.getpid()}@localhost"


def _broker_url() -> str:
    """A Redis DB of its own (14) on the same server as the test cache, unless overridden."""
    explicit = os.environ.get("INTEGRATION_BROKER_URL")
    if explicit:
        return explicit
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15")
    return urlunsplit((parts.scheme, parts.netloc, "/14", "", ""))


BROKER_URL = _broker_url()


def wait_for(predicate, *, what: str, timeout: float = WAIT_SECONDS, interval: float = 0.1,
             diagnostics=None):
    """Poll until `predicate()` is truthy and return its value; fail with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{diagnostics()}" if diagnostics else ""
            pytest.fail(f"Timed out after {timeout:.0f}s waiting for {what}.{extra}")
        time.sleep(interval)


def _database_url(settings_dict: dict) -> str:
    """postgres:// URL of the database this test process uses (the test database)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="module")
def celery_broker():
    """Point the in-process Celery app at a flushed Redis DB and stop running tasks eagerly."""
    from config.celery import app

    connection = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2)
    connection.flushdb()
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.broker_url = BROKER_URL
    app.conf.task_always_eager = False
    reset_celery_connections(app)
    try:
        yield BROKER_URL
    finally:
        app.conf.update(saved)
        reset_celery_connections(app)
        connection.flushdb()
        connection.close()


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path

    def log(self, since: int = 0) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace")

    def mark(self) -> int:
        """Current end of the log: pass to `log(since=...)` to read what came after."""
        return self.log_path.stat().st_size

    def tail(self, lines: int = 40) -> str:
        return "worker log (tail):\n" + "\n".join(self.log().splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"celery worker exited with {self.process.returncode}.\n{self.tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, fake_stripe_server, celery_broker, tmp_path_factory):
    """A real `celery worker` process on the test database, the broker DB and the fake."""
    from django.db import connection

    from config.celery import app

    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        # The test's own cache, as a deployment's worker shares the web's: the webhook
        # intake and the drains coordinate through it (apps.stripe_sync.tasks).
        "REDIS_URL": os.environ.get("REDIS_URL") or celery_broker,
        "CELERY_BROKER_URL": celery_broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "STRIPE_API_BASE": fake_stripe_server,
        "TESTING": "1",
        "EMAIL_URL": "locmem://",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info",
        "--pool", "solo", "-Q", "celery", "-n", WORKER_NAME,
        # Nothing to synchronise with: skip the start-up handshakes (saves seconds).
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    worker = WorkerProcess(process, log_path)
    try:
        def ready():
            worker.check_alive()
            return " ready." in worker.log()

        wait_for(ready, what="the celery worker to report ready", diagnostics=worker.tail)

        # Prove the test process and the worker share the broker before any test relies on it.
        def answers_ping():
            worker.check_alive()
            return app.control.ping(destination=[WORKER_NAME], timeout=1.0)

        wait_for(answers_ping, what="the worker to answer a ping over the broker",
                 diagnostics=worker.tail, interval=0.2)
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def fake_stripe_webhook_cleanup(fake_stripe_server):
    """The fake keeps webhook registrations for the whole session: once this package is
    done, stop it posting to our live server (later tests use the same fake)."""
    yield
    requests.post(
        f"{fake_stripe_server}/_config/webhooks/portal",
        json={"url": "http://127.0.0.1:9/", "secret": "whsec_unused",
              "events": ["integration.tests.finished"]},
        timeout=5,
    ).raise_for_status()


def fake_event_ids() -> list[str]:
    """Ids of every event the fake has emitted so far, through the SDK."""
    from apps.payments import gateway

    events = gateway.client().v1.events.list(params={"limit": 100})
    return [event.id for event in events.auto_paging_iter()]


class StripeWebhooks:
    """Webhook delivery from the fake to the live server, with the worker behind it."""

    def __init__(self, worker: WorkerProcess, known_events: set[str]):
        self.worker = worker
        self.known_events = known_events
        self.log_mark = worker.mark()

    def new_fake_events(self) -> list[str]:
        return [eid for eid in fake_event_ids() if eid not in self.known_events]

    def diagnostics(self) -> str:
        from apps.payments.models import StripeEvent

        rows = list(StripeEvent.objects.order_by("pk").values_list(
            "stripe_id", "type", "status", "attempts", "last_error"))
        return f"stripe events in the DB: {rows}\n{self.worker.tail()}"

    def wait_processed(self, **filters):
        """The StripeEvent matching `filters`, once the worker has processed it."""
        from apps.payments.models import StripeEvent

        def processed():
            self.worker.check_alive()
            return StripeEvent.objects.filter(status=StripeEvent.Status.PROCESSED,
                                              **filters).first()

        return wait_for(processed, what=f"a processed StripeEvent with {filters}",
                        diagnostics=self.diagnostics)

    def worker_task_results(self, task_name: str) -> list[str]:
        """`Task <name>[id] succeeded in ...: <result>` lines the worker logged in this test."""
        return [line for line in self.worker.log(since=self.log_mark).splitlines()
                if f"Task {task_name}[" in line and " succeeded in " in line]

    def drain(self, timeout: float = WAIT_SECONDS) -> None:
        """Wait until every event the fake emitted during the test has been stored and
        processed and no email is still on its way, so nothing spills into the next test
        (or into the table flush that ends this one)."""
        from apps.core.models import Communication
        from apps.payments.models import StripeEvent

        def settled():
            self.worker.check_alive()
            emitted = set(self.new_fake_events())
            processed = set(StripeEvent.objects.filter(
                stripe_id__in=emitted, status=StripeEvent.Status.PROCESSED,
            ).values_list("stripe_id", flat=True))
            sending = Communication.objects.filter(status__in=[
                Communication.Status.QUEUED, Communication.Status.SENDING]).exists()
            return emitted == processed and not sending

        wait_for(settled, what="every webhook of this test to be processed and every email "
                               "sent", timeout=timeout, diagnostics=self.diagnostics)


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture
def stripe_webhooks(request, transactional_db, live_server, fake_stripe, settings,
                    celery_worker_process, fake_stripe_webhook_cleanup):
    """Register the live server's webhook URL with the fake; drain deliveries at the end."""
    register_fake_stripe_webhook(fake_stripe, live_server.url + "/webhooks/stripe/",
                                 settings.STRIPE_WEBHOOK_SECRET)
    hooks = StripeWebhooks(celery_worker_process, set(fake_event_ids()))
    yield hooks
    if request.node.stash.get(CALL_FAILED, False):
        # The test already failed and said why: settle what can be settled, quietly.
        try:
            hooks.drain(timeout=5.0)
        except pytest.fail.Exception:
            pass
    else:
        hooks.drain()
