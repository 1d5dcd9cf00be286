"""The Content Security Policy follows the configured Stripe (issue #16 item 4): with real
Stripe.js every origin Stripe's CSP guide requires is allowed in its directive; with the
local fake, the fake's one origin."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from config.csp import build_csp
from tests.conftest import BASE_DIR

REQUIRED_FOR_REAL_STRIPE = {
    "script-src": {"https://js.stripe.com", "https://*.js.stripe.com"},
    "frame-src": {"https://js.stripe.com", "https://*.js.stripe.com",
                  "https://hooks.stripe.com"},  # hooks: the 3-D Secure frame
    "connect-src": {"https://api.stripe.com"},
}


def settings_csp_with(env: dict) -> dict:
    """SECURE_CSP as a process started with these variables builds it."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "import json; from django.conf import settings; print(json.dumps(settings.SECURE_CSP))"],
        cwd=BASE_DIR, env={**os.environ, "DEBUG": "1", **env}, capture_output=True, text=True,
        timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_real_stripe_settings_allow_every_origin_stripe_requires():
    csp = settings_csp_with({"STRIPE_API_BASE": "https://api.stripe.com",
                             "STRIPE_JS_URL": "https://js.stripe.com/v3/"})
    for directive, origins in REQUIRED_FOR_REAL_STRIPE.items():
        assert origins <= set(csp[directive]), directive
    assert "'self'" in csp["script-src"] and "'unsafe-inline'" not in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert not any("127.0.0.1" in value for values in csp.values() for value in values)


def test_the_real_stripe_policy_is_what_the_browser_is_sent(client, settings):
    settings.SECURE_CSP = build_csp(stripe_js_url="https://js.stripe.com/v3/")
    header = client.get("/").headers["Content-Security-Policy"]
    directives = {part.split()[0]: set(part.split()[1:]) for part in header.split(";")
                  if part.strip()}
    for directive, origins in REQUIRED_FOR_REAL_STRIPE.items():
        assert origins <= directives[directive], directive


@pytest.mark.parametrize("url", ["http://js.stripe.com/v3/", "https://js.stripe.com.evil.example/v3/",
                                 "https://evil.example/js.stripe.com/v3/"])
def test_only_the_real_https_stripe_js_gets_the_stripe_origins(url):
    csp = build_csp(stripe_js_url=url)
    assert "https://api.stripe.com" not in csp["connect-src"]
    assert "https://hooks.stripe.com" not in csp["frame-src"]


def test_the_fake_keeps_its_own_origin_for_the_demo_and_tests():
    fake = settings.STRIPE_API_BASE
    assert fake.startswith("http://127.0.0.1")
    for directive in ("script-src", "frame-src", "connect-src"):
        assert settings.SECURE_CSP[directive] == ["'self'", fake]


pytestmark = pytest.mark.django_db
