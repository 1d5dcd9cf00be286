"""allauth's account adapter (ACCOUNT_ADAPTER): addresses are normalised by the one function
the whole project compares them with; admin and support set up a second factor at their
first password sign-in; allauth's emails (sign-in codes, address confirmation, password
reset) go through the outbox like every other email: recorded as a Communication, sent
after commit by the same task with its retries, with the branded HTML part."""

from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.shortcuts import redirect
from django.urls import reverse

from apps.core.emails import communication_record
from apps.core.models import Communication

from .models import normalize_email
from .selectors import user_for_email
from .staff_auth import SETUP_PENDING_SESSION_KEY, is_staff_account, must_set_up_second_factor


def is_staff_email(email: str) -> bool:
    user = user_for_email(email=email)
    return user is not None and is_staff_account(user)


# What allauth puts in an email that signs its holder in or sets a password: staff who can
# read the Communication log must not be able to use it (the body is dropped once sent).
SECRETS = {"code", "password_reset_url", "activate_url", "key"}


def on_site(url: str) -> str:
    parts = urlsplit(url)
    return settings.SITE_URL + parts.path + (f"?{parts.query}" if parts.query else "")


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        return normalize_email(super().clean_email(email))

    def send_mail(self, template_prefix, email, context):
        # A staff address gets no sign-in code (apps.users.forms.RequestLoginCodeForm), so
        # allauth would tell it "no such account": tell staff how they do sign in instead.
        if template_prefix == "account/email/unknown_account" and is_staff_email(email):
            template_prefix = "account/email/staff_use_password"
            context = {**context, "login_url": settings.SITE_URL + reverse("account_login")}
        request = allauth_context.request
        values = {"request": request, "email": email, "current_site": get_current_site(request),
                  "SITE_URL": settings.SITE_URL, **context}
        message = self.render_mail(template_prefix, email, values)
        user = context.get("user")
        if getattr(user, "pk", None) is None:
            user = user_for_email(email=email)
        communication_record(kind=Communication.Kind.ACCOUNT, recipient=email,
                             subject=message.subject, body=message.body, user=user,
                             carries_secret=bool(SECRETS & context.keys()))

    # Links in allauth's emails point at SITE_URL, like every other email's, not at
    # whichever host the request came in on.
    def get_reset_password_from_key_url(self, key: str) -> str:
        return on_site(super().get_reset_password_from_key_url(key))

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return on_site(super().get_email_confirmation_url(request, emailconfirmation))

    def post_login(self, request, user, **kwargs):
        response = super().post_login(request, user, **kwargs)
        if must_set_up_second_factor(user):
            # Signed in with the password alone: nothing but the set-up until it is done
            # (apps.users.middleware.StaffSecondFactorMiddleware).
            request.session[SETUP_PENDING_SESSION_KEY] = True
            return redirect("mfa_activate_totp")
        return response
