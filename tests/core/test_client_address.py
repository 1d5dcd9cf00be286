"""Behind a reverse proxy every request arrives from the proxy's address: the client's own
address is in X-Forwarded-For, where the proxy appended it. TRUSTED_PROXY_COUNT (hops)
says how many entries from the right were written by proxies we run; anything to their
left was sent by the client and is never trusted. Rate limits, django-axes and the log
lines all use that one address.
"""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client, RequestFactory, override_settings

from apps.core.client_address import ClientAddressFilter, client_ip
from apps.users.models import User
from apps.users.services import user_change_role, user_get_or_create
from tests.users.test_staff_sign_in import SECRET, totp_now

BASE_DIR = Path(__file__).resolve().parents[2]
PROXY = "10.0.0.2"  # the reverse proxy: every request's REMOTE_ADDR
PASSWORD = "correct horse battery staple"


def request_from(remote_addr, xff=None):
    headers = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, **headers)


@pytest.mark.parametrize(("hops", "xff", "expected"), [
    (0, None, PROXY),
    (0, "203.0.113.5", PROXY),  # no proxy configured: the header is the client's own words
    (1, "203.0.113.5", "203.0.113.5"),
    (1, "1.2.3.4, 203.0.113.5", "203.0.113.5"),  # forged leftmost entry ignored
    (1, "1.2.3.4,203.0.113.5", "203.0.113.5"),
    (2, "1.2.3.4, 198.51.100.7, 10.1.1.1", "198.51.100.7"),  # CDN then nginx
    (2, "203.0.113.5", PROXY),  # fewer entries than proxies: it bypassed a hop
    (1, None, PROXY),
    (1, "", PROXY),
    (1, "1.2.3.4, not-an-address", PROXY),  # garbage from a misconfigured hop
    (1, "2001:db8::1", "2001:db8::1"),
])
def test_the_client_is_the_entry_the_nearest_trusted_proxy_saw(settings, hops, xff, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    assert client_ip(request_from(PROXY, xff)) == expected


@pytest.fixture
def staff_user(db):
    user = user_change_role(user=user_get_or_create(email="ops@example.com"), role="support",
                            actor=None)
    user.set_password(PASSWORD)
    user.save()
    EmailAddress.objects.filter(user=user).update(verified=True)
    TOTP.activate(user, SECRET)
    return user


def behind_proxy(client_address, forged=""):
    """A browser at client_address, reaching the portal through nginx, which appends the
    address it saw to whatever X-Forwarded-For the browser sent."""
    xff = f"{forged}, {client_address}" if forged else client_address
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=xff)


def admin_login(client, email, password):
    """The staff sign-in's password step (where /admin/login/ sends staff): a 302 to the
    second factor when the password is accepted, 429 when the client is locked out."""
    return client.post("/accounts/login/?next=/admin/", {"login": email, "password": password})


def password_accepted(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        "/accounts/2fa/authenticate/")


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_failed_logins_lock_out_their_own_client_not_everyone_behind_the_proxy(staff_user):
    attacker = behind_proxy("203.0.113.5")
    for attempt in range(5):  # five wrong passwords, each against a different account
        admin_login(attacker, f"nobody{attempt}@example.com", "wrong")
    assert admin_login(attacker, "nobody9@example.com", "wrong").status_code == 429

    colleague = behind_proxy("198.51.100.7")
    assert password_accepted(admin_login(colleague, staff_user.email, PASSWORD))
    second = colleague.post("/accounts/2fa/authenticate/", {"code": totp_now()})
    assert second.status_code == 302 and second["Location"] == "/admin/"
    assert colleague.get("/admin/").status_code == 200


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_forged_leftmost_address_does_not_escape_the_lockout(staff_user):
    attacker_address = "203.0.113.5"
    for attempt in range(5):
        admin_login(behind_proxy(attacker_address, forged=f"192.0.2.{attempt}"),
                    f"nobody{attempt}@example.com", "wrong")
    fresh_lie = behind_proxy(attacker_address, forged="192.0.2.200")
    assert admin_login(fresh_lie, staff_user.email, PASSWORD).status_code == 429
    # The colleague behind the same proxy is unaffected.
    assert password_accepted(admin_login(behind_proxy("198.51.100.7"), staff_user.email,
                                         PASSWORD))


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1, BOOKING_RATE_LIMIT="2/h")
def test_the_booking_rate_limit_counts_per_client_and_ignores_forged_entries():
    from tests.factories import SessionFactory

    session = SessionFactory()
    url = f"/sessions/{session.pk}/book/"
    form = {"email": "not-an-email", "seats": "1"}  # invalid: counted, nothing created

    for attempt in range(2):
        assert behind_proxy("203.0.113.5", forged=f"192.0.2.{attempt}").post(
            url, form).status_code != 429
    assert behind_proxy("203.0.113.5", forged="192.0.2.99").post(url, form).status_code == 429
    assert behind_proxy("198.51.100.7").post(url, form).status_code != 429
    assert User.objects.filter(email="not-an-email").count() == 0


LOG_SCRIPT = """
import logging
import django
django.setup()
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from config import urls

def logs(request):
    logging.getLogger("portal.check").warning("checked behind the proxy")
    return HttpResponse("ok")

urls.urlpatterns[:0] = [path("_check/client", logs)]
client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5")
assert client.get("/_check/client", secure=True).status_code == 200
"""


def test_json_log_lines_carry_the_client_address_not_the_proxy_or_a_forged_one():
    env = {k: v for k, v in os.environ.items() if k not in {"TESTING", "DEBUG", "LOG_FORMAT"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x" * 60,
                "ALLOWED_HOSTS": "testserver", "STRIPE_SECRET_KEY": "sk_test_x",
                "STRIPE_WEBHOOK_SECRET": "whsec_x", "STRIPE_PUBLISHABLE_KEY": "pk_test_x",
                "EMAIL_URL": "locmem://", "TRUSTED_PROXY_COUNT": "1"})
    result = subprocess.run([sys.executable, "-c", LOG_SCRIPT], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    line = next(r for r in records if r["message"] == "checked behind the proxy")
    assert line["client_ip"] == "203.0.113.5"


def test_log_lines_outside_a_request_say_so():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    ClientAddressFilter().filter(record)
    assert record.client_ip == "-"


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_stripe_webhooks_over_plain_http_are_never_redirected():
    # Production settings redirect plain HTTP to HTTPS; Stripe does not follow redirects,
    # so a 301 would lose the event. The webhook is exempt (its signature authenticates it).
    client = Client()
    page = client.get("/")
    assert page.status_code == 301 and page["Location"].startswith("https://")
    hook = client.post("/webhooks/stripe/", data="{}", content_type="application/json")
    assert hook.status_code == 400  # reached the view: no signature, refused, not redirected
    assert client.get("/healthz").status_code != 301


def production_settings(**env):
    """config.settings as a production process would load it (DEBUG off, not TESTING)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"TESTING", "DEBUG"}}
    clean.update({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal",
                  "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "portal.example.com",
                  "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x",
                  "STRIPE_PUBLISHABLE_KEY": "pk_test_x"})
    clean.update(env)
    code = ("import json; from config import settings as s; print(json.dumps({"
            "'redirect': s.SECURE_SSL_REDIRECT, 'exempt': s.SECURE_REDIRECT_EXEMPT, "
            "'proxy_header': getattr(s, 'SECURE_PROXY_SSL_HEADER', None), "
            "'hops': s.TRUSTED_PROXY_COUNT, 'drf': s.REST_FRAMEWORK.get('NUM_PROXIES')}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=clean, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_production_trusts_x_forwarded_proto_only_behind_a_proxy():
    direct = production_settings()
    assert direct["hops"] == 0 and direct["proxy_header"] is None and direct["drf"] == 0
    proxied = production_settings(TRUSTED_PROXY_COUNT="1")
    assert proxied["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert proxied["drf"] == 1
    for loaded in (direct, proxied):
        assert loaded["redirect"] is True
        assert any(pattern.startswith("^webhooks/") for pattern in loaded["exempt"])


def test_a_bad_trusted_proxy_count_is_a_clear_error():
    with pytest.raises(subprocess.CalledProcessError) as failure:
        production_settings(TRUSTED_PROXY_COUNT="-1")
    assert "TRUSTED_PROXY_COUNT" in failure.value.stderr
