"""Issue #26, item 6, in a real browser on a phone and a desktop: an admin signs in with a
password, is made to set up an authenticator app (TOTP, the code computed here from the
secret the page shows, as the app would) and gets recovery codes; next time the password
alone is not enough: a wrong code is refused, a recovery code gets them in.

Screenshots of every step go to test-artifacts/e2e/<viewport>/."""

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import Page, expect

from apps.users.models import User
from apps.users.roles import ensure_role_groups
from apps.users.services import user_change_role, user_get_or_create
from tests.e2e.staff import make_staff_ready, totp_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EMAIL, PASSWORD = "ops.lead@example.com", "correct-horse-battery"  # pragma: allowlist secret


def password_step(page: Page, live_server, shot, name: str) -> None:
    page.goto(live_server.url + "/admin/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=(/|%2F)admin(/|%2F)$"))
    page.locator("#id_login").fill(EMAIL)
    page.locator("#id_password").fill(PASSWORD)
    shot(page, name)
    page.get_by_role("button", name="Sign In").click()


def test_an_admin_sets_up_totp_and_then_cannot_sign_in_with_the_password_alone(
        page, live_server, screenshot):
    ensure_role_groups()  # the migration made them; transactional tests flush them
    admin = make_staff_ready(
        user_change_role(user=user_get_or_create(email=EMAIL), role=User.Role.ADMIN,
                         actor=None), password=PASSWORD)

    # First sign-in: the password is right, but an admin has no way in without a second
    # factor. allauth asks for the password again before one is added.
    password_step(page, live_server, screenshot, "password")
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.locator("#id_password").fill(PASSWORD)
    screenshot(page, "confirm-password")
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    expect(page.get_by_role("img", name=re.compile(r"[A-Z2-7]{16,}"))).to_be_visible()  # QR
    page.goto(live_server.url + "/admin/")  # nothing else opens until it is set up
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    screenshot(page, "activate-totp")
    page.locator("input[name='code']").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()

    # Recovery codes come with it, shown to keep.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/"))
    codes = page.locator("#recovery_codes").input_value().split()
    assert len(codes) == 10
    screenshot(page, "recovery-codes")
    assert Authenticator.objects.filter(user=admin, type="totp").exists()
    page.goto(live_server.url + "/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    screenshot(page, "admin-index")
    assert not page.errors, page.errors

    # Sign out; the password alone no longer gets in.
    page.context.clear_cookies()
    password_step(page, live_server, screenshot, "password-again")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.locator("input[name='code']").fill("000000")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    screenshot(page, "wrong-code")
    page.goto(live_server.url + "/admin/")  # not in: the sign-in waits for its second step
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))

    # A recovery code (the phone with the app is lost) gets them in.
    page.locator("input[name='code']").fill(codes[0])
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(live_server.url + "/admin/")
    screenshot(page, "signed-in-with-recovery-code")
    assert not page.errors, page.errors
