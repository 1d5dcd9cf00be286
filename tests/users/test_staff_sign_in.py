"""Issue #26, item 6: staff (admin, support, instructor) sign in with a password and a
second factor (allauth MFA: TOTP with recovery codes), required for admin and support,
offered to instructors; emailed codes are for customers only; the lockout (django-axes)
applies to every staff route in."""

import re
import time
from urllib.parse import unquote

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.core import mail
from django.test import Client

from apps.users.models import User
from apps.users.services import user_change_role, user_get_or_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # pragma: allowlist secret
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # pragma: allowlist secret


def staff(role: str, email: str, *, totp: bool = False) -> User:
    user = user_change_role(user=user_get_or_create(email=email), role=role, actor=None)
    user.set_password(PASSWORD)
    user.save()
    EmailAddress.objects.filter(user=user).update(verified=True)  # proven when hired
    if totp:
        TOTP.activate(user, SECRET)
    return user


def totp_now(secret: str = SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def password_login(email: str, password: str = PASSWORD, *, ip="192.0.2.10"):
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/accounts/login/?next=/admin/", {"login": email,
                                                             "password": password})
    return client, response


def in_admin(client) -> bool:
    return client.get("/admin/").status_code == 200


def no_code_sent_to(email: str) -> bool:
    return not any(email in m.to and re.search(r"^\s*[A-Z0-9]{4}-[A-Z0-9]{4}\s*$", m.body,
                                               re.M) for m in mail.outbox)


@pytest.mark.parametrize("role", ["admin", "support", "instructor"])
def test_staff_are_never_sent_a_sign_in_code(role):
    staff(role, "ops@example.com", totp=True)
    client = Client()
    response = client.post("/accounts/login/code/", {"email": "ops@example.com"})
    assert response.status_code == 302  # the same answer as for anyone: nothing revealed
    assert no_code_sent_to("ops@example.com")
    assert client.get("/admin/").status_code == 302


def test_a_locked_out_admin_cannot_get_in_by_emailed_code():
    staff("admin", "boss@example.com", totp=True)
    for _ in range(5):
        password_login("boss@example.com", "wrong")
    assert password_login("boss@example.com")[1].status_code == 429
    client = Client()
    client.post("/accounts/login/code/", {"email": "boss@example.com"})
    assert no_code_sent_to("boss@example.com")
    assert not in_admin(client)


def test_the_admin_login_page_sends_staff_to_the_password_and_second_factor_sign_in():
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert unquote(response["Location"]).startswith("/accounts/login/?next=/admin/")
    # Posting a password to the admin's own form does not sign in around the second factor.
    staff("admin", "boss@example.com", totp=True)
    client = Client()
    client.post("/admin/login/?next=/admin/", {"username": "boss@example.com",
                                               "password": PASSWORD})
    assert not in_admin(client)


@pytest.mark.parametrize("role", ["admin", "support", "instructor"])
def test_with_totp_the_password_alone_does_not_sign_in(role):
    staff(role, "ops@example.com", totp=True)
    client, response = password_login("ops@example.com")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert not in_admin(client)
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200 and not in_admin(client)
    done = client.post("/accounts/2fa/authenticate/", {"code": totp_now()})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert in_admin(client)


@pytest.mark.parametrize("role", ["admin", "support"])
def test_admin_and_support_without_totp_must_set_it_up_before_anything_else(role):
    user = staff(role, "ops@example.com")
    client, response = password_login("ops@example.com")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/totp/activate/")
    for url in ("/admin/", "/portal/", "/api/admin/users/"):
        blocked = client.get(url)
        assert blocked.status_code == 302, url
        assert blocked["Location"].startswith("/accounts/2fa/totp/activate/"), url
    # allauth asks for the password again before a second factor is added.
    reauthenticate = client.get("/accounts/2fa/totp/activate/")
    assert reauthenticate["Location"].startswith("/accounts/reauthenticate/")
    client.post(reauthenticate["Location"], {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/").content.decode()
    secret = client.session["mfa.totp.secret"]
    assert secret in page  # shown for typing into an authenticator app, beside the QR code
    activated = client.post("/accounts/2fa/totp/activate/", {"code": totp_now(secret)})
    assert activated.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    # Recovery codes come with it.
    assert Authenticator.objects.filter(user=user,
                                        type=Authenticator.Type.RECOVERY_CODES).exists()
    assert in_admin(client)


def test_instructors_are_offered_a_second_factor_but_may_sign_in_without():
    staff("instructor", "sam@example.com")
    client, response = password_login("sam@example.com")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert in_admin(client)
    assert client.get("/accounts/2fa/").status_code == 200  # where they may add one


def test_the_lockout_applies_to_the_password_sign_in():
    staff("support", "ops@example.com", totp=True)
    for _ in range(5):
        password_login("ops@example.com", "wrong")
    client, response = password_login("ops@example.com")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert not in_admin(client)


@pytest.mark.django_db(transaction=True)  # allauth emails are sent on commit
def test_customers_still_sign_in_by_emailed_code():
    user_get_or_create(email="pat@example.com")
    client = Client()
    response = client.post("/accounts/login/code/", {"email": "pat@example.com"})
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.M).group(1)
    assert client.post(response["Location"], {"code": code}).status_code == 302
    assert client.get("/portal/").status_code == 200


@pytest.mark.django_db(transaction=True)  # allauth emails are sent on commit
def test_a_staff_address_asking_for_a_code_is_told_how_staff_sign_in():
    staff("admin", "boss@example.com", totp=True)
    Client().post("/accounts/login/code/", {"email": "boss@example.com"})
    [message] = [m for m in mail.outbox if "boss@example.com" in m.to]
    assert "staff never get emailed codes" in message.body
    assert "/accounts/login/" in message.body
    assert "do not have any record" not in message.body
