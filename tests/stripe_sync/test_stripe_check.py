"""`manage.py stripe_check` against the local fake Stripe (a real localstripe process): the
operator's pre-flight check of keys, account and webhook endpoint."""

import io

import pytest
import requests
from django.core.management import call_command

from apps.stripe_sync.webhooks import HANDLERS
from tests.conftest import free_port

# Webhook URLs the fake would deliver to are a closed port: nothing is listening there.
DEAD = "http://127.0.0.1:9"


def _register(base: str, key: str, url: str, events: list[str] | None = None) -> None:
    data = {"url": url, "secret": "whsec_check"}  # pragma: allowlist secret
    for index, event in enumerate(events or []):
        data[f"events[{index}]"] = event  # Stripe's form encoding of a list
    requests.post(f"{base}/_config/webhooks/{key}", data=data, timeout=5).raise_for_status()


def _run() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("stripe_check", stdout=out, stderr=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_ready_when_an_endpoint_for_this_site_receives_every_handled_event(fake_stripe, settings):
    settings.SITE_URL = f"{DEAD}/ready"
    _register(fake_stripe, "check-ready", f"{DEAD}/ready/webhooks/stripe/")

    code, output = _run()

    assert code == 0, output
    assert "the account answers" in output
    assert "receives every handled event" in output
    assert "Stripe is ready for this portal." in output


def test_missing_endpoint_is_reported_with_the_events_to_subscribe(fake_stripe, settings):
    settings.SITE_URL = f"{DEAD}/nowhere"

    code, output = _run()

    assert code == 1
    assert f"No webhook endpoint sends to {DEAD}/nowhere/webhooks/stripe/" in output
    for event in HANDLERS:
        assert event in output


def test_an_endpoint_missing_events_lists_them(fake_stripe, settings):
    settings.SITE_URL = f"{DEAD}/partial"
    _register(fake_stripe, "check-partial", f"{DEAD}/partial/webhooks/stripe/",
              events=["payment_intent.succeeded"])

    code, output = _run()

    assert code == 1
    missing_line = next(line for line in output.splitlines() if "does not receive" in line)
    assert "payment_intent.payment_failed" in missing_line
    assert "refund.updated" in missing_line
    assert "payment_intent.succeeded" not in missing_line


def test_keys_of_different_modes_are_a_problem(fake_stripe, settings):
    settings.SITE_URL = f"{DEAD}/ready-modes"
    _register(fake_stripe, "check-modes", f"{DEAD}/ready-modes/webhooks/stripe/")
    settings.STRIPE_PUBLISHABLE_KEY = "pk_live_mixed"

    code, output = _run()

    assert code == 1
    assert "secret key is a test key but the publishable key is a live key" in output


def test_unreachable_stripe_exits_2_with_a_sentence(settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    code, output = _run()

    assert code == 2
    assert "Stripe could not be reached" in output


@pytest.mark.parametrize("missing", ["STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY"])
def test_missing_keys_exit_2(settings, missing):
    setattr(settings, missing, "")

    code, output = _run()

    assert code == 2
    assert "must both be set" in output
