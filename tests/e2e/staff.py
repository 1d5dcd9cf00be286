"""Staff in the browser tests: made as staff are (a verified address, a password, and for
admin and support a second factor), signed in as staff sign in (password, then TOTP)."""

import re
import time

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from playwright.sync_api import Page, expect

from apps.users.models import User


def totp_code(secret: str) -> str:
    """What an authenticator app shows now for `secret`."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def make_staff_ready(user: User, *, password: str, totp_secret: str | None = None) -> User:
    user.set_password(password)
    user.save()
    EmailAddress.objects.update_or_create(user=user, email=user.email,
                                          defaults={"verified": True, "primary": True})
    if totp_secret:
        TOTP.activate(user, totp_secret)
    return user


def sign_in_to_admin(page: Page, live_server, email: str, password: str, shot, *,
                     totp_secret: str | None = None) -> None:
    """/admin/ → the staff sign-in (password) → the second factor, if they have one → admin."""
    page.goto(live_server.url + "/admin/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=(/|%2F)admin(/|%2F)$"))
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(password)
    shot(page, "sign-in")
    page.get_by_role("button", name="Sign In").click()
    if totp_secret:
        expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
        # A code is good for its 30-second window only: near the window's end (a slow CI
        # box, the screenshot below) wait for the next one, or the code can lapse in flight.
        left = 30 - time.time() % 30
        if left < 10:
            time.sleep(left + 0.5)
        page.locator("input[name='code']").fill(totp_code(totp_secret))
        shot(page, "second-factor")
        page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(live_server.url + "/admin/")
