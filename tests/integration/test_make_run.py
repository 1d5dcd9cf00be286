"""Issue #21.7: `make run PORT=… FAKE_STRIPE_PORT=…` moves the portal, its links
(SITE_URL), its Stripe settings and CSP together, and stops loudly when the fake Stripe
cannot start. Runs the real Makefile target on free ports with a throw-away SQLite file."""

import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from tests.conftest import BASE_DIR, free_port

pytestmark = pytest.mark.integration


def _demo_env(tmp_path) -> dict:
    """A developer's shell: none of the test run's service settings."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("STRIPE_", "SITE_URL", "CELERY_", "EMAIL_URL", "TESTING",
                                  "REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS"))}
    # DEBUG on, as embedded; the database in tmp_path so the developer's var/ is untouched.
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DEBUG="1")
    return env


def test_a_taken_fake_stripe_port_stops_make_run_with_a_message(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        result = subprocess.run(
            ["make", "run", f"PORT={free_port()}", f"FAKE_STRIPE_PORT={busy}"],
            cwd=BASE_DIR, env=_demo_env(tmp_path), capture_output=True, text=True,
            timeout=120)
    assert result.returncode != 0
    assert f"port {busy} on 127.0.0.1 is already in use" in result.stderr
    assert "runserver" not in result.stdout


def test_port_overrides_move_links_stripe_and_csp(tmp_path):
    port, fake_port = free_port(), free_port()
    env = _demo_env(tmp_path)
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"FAKE_STRIPE_PORT={fake_port}"], cwd=BASE_DIR,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        portal = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, process.stdout.read()[-3000:]
            try:
                home = requests.get(portal + "/", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the portal never answered"
                time.sleep(0.5)
        fake = f"http://127.0.0.1:{fake_port}"
        assert fake in home.headers["Content-Security-Policy"]
        assert ":8420" not in home.headers["Content-Security-Policy"]
        assert requests.get(f"{fake}/js.stripe.com/v3/", timeout=5).status_code == 200

        token = subprocess.run(
            [str(BASE_DIR / ".venv/bin/python"), "manage.py", "drf_create_token",
             "admin@example.com"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
            check=True).stdout.split()[2]
        headers = {"Authorization": f"Token {token}"}
        session = requests.get(f"{portal}/api/sessions/", timeout=5).json()["results"][0]
        created = requests.post(f"{portal}/api/admin/bookings", headers=headers, timeout=10,
                                json={"session_id": session["id"], "payment": "card",
                                      "purchaser": {"email": "ports@example.com",
                                                    "first_name": "Port"},
                                      "attendees": [{"name": "Port",
                                                     "email": "ports@example.com"}]})
        assert created.status_code == 201, created.text
        assert created.json()["payment_url"].startswith(f"{portal}/bookings/")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
