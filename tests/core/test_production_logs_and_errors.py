"""Production logs (one JSON object per line) and optional Sentry reports.

Both are configured when settings load, so each case runs the portal's settings in a
child process with the environment of that case (production: no DEBUG, no TESTING),
sends it one request through Django's test client and reads what came out: the log lines
on stderr, the error reports at a local HTTP server standing in for Sentry."""

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

# Runs in the child: a view that logs, one that fails, a request to each.
SCRIPT = """
import logging, sys
import django
django.setup()
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from config import urls

def logs(request):
    logging.getLogger("portal.check").warning("checked %s", "in a view")
    try:
        1 / 0
    except ZeroDivisionError:
        logging.getLogger("portal.check").exception("caught on purpose")
    return HttpResponse("ok")

def fails(request):
    raise RuntimeError("boom on purpose")

urls.urlpatterns[:0] = [path("_check/logs", logs), path("_check/fails", fails)]
client = Client(raise_request_exception=False)
headers = {"X-Request-ID": "req-check-0001"}
assert client.get("/_check/logs", headers=headers, secure=True).status_code == 200
assert client.get("/_check/fails", headers=headers, secure=True).status_code == 500
print("sentry loaded:", "sentry_sdk" in sys.modules, file=sys.stdout)
if "sentry_sdk" in sys.modules:
    import sentry_sdk
    print("sentry active:", sentry_sdk.get_client().is_active(), file=sys.stdout)
    sentry_sdk.flush(timeout=10)
"""


def run_portal(**env_overrides):
    env = {key: value for key, value in os.environ.items()
           if key not in {"TESTING", "DEBUG", "LOG_FORMAT", "SENTRY_DSN"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x" * 60,
                "ALLOWED_HOSTS": "testserver", "STRIPE_SECRET_KEY": "sk_test_x",
                "STRIPE_WEBHOOK_SECRET": "whsec_x", "STRIPE_PUBLISHABLE_KEY": "pk_test_x",
                "EMAIL_URL": "locmem://", **env_overrides})
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_production_log_lines_are_json_with_the_request_id():
    result = run_portal()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    warning = next(r for r in records if r["message"] == "checked in a view")
    assert warning["level"] == "WARNING" and warning["logger"] == "portal.check"
    assert warning["request_id"] == "req-check-0001"
    assert warning["timestamp"].startswith("20") and "T" in warning["timestamp"]
    caught = next(r for r in records if r["message"] == "caught on purpose")
    assert "ZeroDivisionError" in caught["exc_info"] and caught["level"] == "ERROR"
    failed = next(r for r in records if r["logger"] == "django.request")
    assert failed["request_id"] == "req-check-0001"
    assert "RuntimeError: boom on purpose" in failed["exc_info"]


def test_debug_keeps_the_human_format():
    result = run_portal(DEBUG="1")
    line = next(line for line in result.stderr.splitlines() if "checked in a view" in line)
    assert "WARNING [req-check-0001] portal.check checked in a view" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_without_sentry_dsn_sentry_is_not_even_imported():
    result = run_portal()
    assert "sentry loaded: False" in result.stdout


class FakeSentry(BaseHTTPRequestHandler):
    """Counts the envelopes a Sentry client sends (POST /api/<project>/envelope/)."""

    envelopes: list[bytes] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.envelopes.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_sentry():
    FakeSentry.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_with_sentry_dsn_an_error_in_a_view_is_reported_with_its_request_id(fake_sentry):
    port = fake_sentry.server_address[1]
    result = run_portal(SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/42",
                        SENTRY_ENVIRONMENT="staging", SENTRY_RELEASE="portal@1.2.3")
    assert "sentry active: True" in result.stdout
    events = []
    for envelope in FakeSentry.envelopes:
        for line in envelope.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "exception" in item:
                events.append(item)
    boom = [e for e in events if any(v.get("value") == "boom on purpose"
                                     for v in e["exception"]["values"])]
    assert len(boom) == 1, FakeSentry.envelopes
    event = boom[0]
    assert event["tags"]["request_id"] == "req-check-0001"
    assert event["environment"] == "staging" and event["release"] == "portal@1.2.3"
    # send_default_pii is off: no cookies, no client IP address in the report.
    assert "cookies" not in event.get("request", {})
    assert "ip_address" not in json.dumps(event.get("user", {}))
