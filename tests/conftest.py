import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.cache import cache

# Every test fails when Redis or Stripe is called while a row lock is held (tests/lock_guard.py).
from tests.lock_guard import lock_guard  # noqa: F401

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def celery_as_a_worker():
    """Eager tasks that do not raise to their caller, so retries run and the last failure
    reaches the task's on_failure, as on a worker. Tests otherwise propagate task errors
    (CELERY_TASK_EAGER_PROPAGATES); Celery's eager retries read the app's setting, not
    apply()'s `throw`, so the setting itself is switched."""
    from config.celery import app

    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 20.0, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


@pytest.fixture(scope="session")
def fake_stripe_server():
    """A real localstripe process on a free loopback port, memory only, for this run."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fake_stripe", "--port", str(port)],
        cwd=BASE_DIR,
        env={**os.environ, "STRIPE_API_BASE": base},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def fake_stripe(fake_stripe_server, settings):
    """Point the Stripe SDK, Stripe.js and the CSP at the fake for one test."""
    base = fake_stripe_server
    old_origin = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = base
    settings.STRIPE_JS_URL = f"{base}/double/v3/"
    settings.SECURE_CSP = {
        key: [base if value == old_origin else value for value in values]
        for key, values in settings.SECURE_CSP.items()
    }
    return base


def register_fake_stripe_webhook(base: str, url: str, secret: str) -> None:
    """Tell the fake where to deliver events (it keeps registrations in memory)."""
    response = requests.post(f"{base}/_config/webhooks/portal",
                             data={"url": url, "secret": secret}, timeout=5)
    response.raise_for_status()


def reset_celery_connections(app) -> None:
    """Forget pooled broker connections so the next send uses the app's current broker_url.
    kombu keeps pools in a process-wide registry and the app caches a producer pool: both
    must go, or a closed pool is handed back."""
    from kombu import pools

    pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
