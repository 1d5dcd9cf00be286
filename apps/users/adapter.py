"""allauth's account adapter (ACCOUNT_ADAPTER): addresses are normalised by the one function
the whole project compares them with; admin and support set up a second factor at their
first password sign-in."""

from allauth.account.adapter import DefaultAccountAdapter
from django.shortcuts import redirect
from django.urls import reverse

from .models import normalize_email
from .selectors import user_for_email
from .staff_auth import SETUP_PENDING_SESSION_KEY, is_staff_account, must_set_up_second_factor


def is_staff_email(email: str) -> bool:
    user = user_for_email(email=email)
    return user is not None and is_staff_account(user)


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        return normalize_email(super().clean_email(email))

    def send_mail(self, template_prefix, email, context):
        # A staff address gets no sign-in code (apps.users.forms.RequestLoginCodeForm), so
        # allauth would tell it "no such account": tell staff how they do sign in instead.
        if template_prefix == "account/email/unknown_account" and is_staff_email(email):
            template_prefix = "account/email/staff_use_password"
            context = {**context, "login_url": self.request.build_absolute_uri(
                reverse("account_login")) if self.request else reverse("account_login")}
        return super().send_mail(template_prefix, email, context)

    def post_login(self, request, user, **kwargs):
        response = super().post_login(request, user, **kwargs)
        if must_set_up_second_factor(user):
            # Signed in with the password alone: nothing but the set-up until it is done
            # (apps.users.middleware.StaffSecondFactorMiddleware).
            request.session[SETUP_PENDING_SESSION_KEY] = True
            return redirect("mfa_activate_totp")
        return response
