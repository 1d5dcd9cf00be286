"""Password logins (the staff sign-in at /accounts/login/, where /admin/login/ sends them)
lock out after repeated failures (django-axes, counted in PostgreSQL); customer sign-in by
emailed code has its own limits (allauth)."""

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.test import Client

from apps.users.models import User
from apps.users.services import user_change_role, user_get_or_create
from tests.users.test_staff_sign_in import SECRET, totp_now

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff_user():
    user = user_change_role(user=user_get_or_create(email="ops@example.com"), role="support",
                            actor=None)
    user.set_password(PASSWORD)
    user.save()
    EmailAddress.objects.filter(user=user).update(verified=True)
    TOTP.activate(user, SECRET)
    return user


def admin_login(email, password, *, ip="192.0.2.10"):
    """The password, then (once it is accepted) the second factor."""
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/accounts/login/?next=/admin/", {"login": email,
                                                             "password": password})
    if response.status_code == 302 and response["Location"].startswith(
            "/accounts/2fa/authenticate/"):
        response = client.post("/accounts/2fa/authenticate/", {"code": totp_now()})
    return client, response


def signed_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_the_limit_is_five_failures_for_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)


def test_after_five_failures_even_the_right_password_is_refused_with_a_clear_page(
        staff_user):
    for _ in range(4):
        _, response = admin_login(staff_user.email, "wrong")
        assert response.status_code == 200
        assert "The email address and/or password you specified are not correct" in \
            response.content.decode()
    _, fifth = admin_login(staff_user.email, "wrong")
    assert fifth.status_code == 429

    client, response = admin_login(staff_user.email, PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-in attempts" in page
    assert "locked for 15 minutes" in page
    assert 'class="site-header"' in page  # the site's own layout
    assert not signed_in(client)


def test_the_lock_lifts_after_the_cool_off(staff_user):
    for _ in range(5):
        admin_login(staff_user.email, "wrong")
    assert admin_login(staff_user.email, PASSWORD)[1].status_code == 429
    # Sixteen minutes pass: the failures are older than the cool-off.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time
                                 - timedelta(minutes=16))
    client, response = admin_login(staff_user.email, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert signed_in(client)


def test_a_successful_login_clears_earlier_failures(staff_user):
    for _ in range(4):
        admin_login(staff_user.email, "wrong")
    assert admin_login(staff_user.email, PASSWORD)[1].status_code == 302
    cache.clear()  # allauth refuses to take one TOTP code twice; this is the same 30 s
    for _ in range(4):
        admin_login(staff_user.email, "wrong")
    client, response = admin_login(staff_user.email, PASSWORD)
    assert response.status_code == 302 and signed_in(client)


def test_one_address_trying_many_accounts_is_locked_out_but_others_are_not(staff_user):
    for n in range(5):
        admin_login(f"guess{n}@example.com", "wrong", ip="198.51.100.7")
    assert admin_login(staff_user.email, PASSWORD, ip="198.51.100.7")[1].status_code == 429
    client, response = admin_login(staff_user.email, PASSWORD, ip="203.0.113.20")
    assert response.status_code == 302 and signed_in(client)


def test_one_account_attacked_from_many_addresses_is_locked_out(staff_user):
    for n in range(5):
        admin_login(staff_user.email, "wrong", ip=f"198.51.100.{n + 1}")
    client, response = admin_login(staff_user.email, PASSWORD, ip="203.0.113.20")
    assert response.status_code == 429 and not signed_in(client)
    assert User.objects.get(pk=staff_user.pk).last_login is None


@pytest.mark.django_db(transaction=True)  # allauth emails are sent on commit
def test_an_emailed_code_stops_working_after_three_wrong_guesses(client):
    """Guessing the emailed code is capped too: after ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS
    wrong codes the right one no longer signs in; a new code must be requested."""
    assert settings.ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS == 3
    user_get_or_create(email="pat@example.com")
    response = client.post("/accounts/login/code/", {"email": "pat@example.com"})
    confirm_url = response["Location"]
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.M).group(1)
    for _ in range(3):
        client.post(confirm_url, {"code": "AAAA-AAAA"})
    final = client.post(confirm_url, {"code": code}, follow=True)
    assert client.get("/portal/").status_code == 302  # still signed out
    assert final.redirect_chain and final.redirect_chain[-1][0] != "/portal/"


def test_changing_the_case_of_the_email_does_not_reset_the_count(staff_user):
    for n, email in enumerate(["OPS@example.com", "Ops@Example.com", "ops@EXAMPLE.com",
                               "ops@example.COM", "oPs@example.com"]):
        admin_login(email, "wrong", ip=f"198.51.100.{n + 1}")
    assert admin_login(staff_user.email, PASSWORD, ip="203.0.113.20")[1].status_code == 429
