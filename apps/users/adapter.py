"""allauth's account adapter (ACCOUNT_ADAPTER): addresses are normalised by the one function
the whole project compares them with; admin and support set up a second factor at their
first password sign-in."""

from allauth.account.adapter import DefaultAccountAdapter
from django.shortcuts import redirect

from .models import normalize_email
from .staff_auth import SETUP_PENDING_SESSION_KEY, must_set_up_second_factor


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        return normalize_email(super().clean_email(email))

    def post_login(self, request, user, **kwargs):
        response = super().post_login(request, user, **kwargs)
        if must_set_up_second_factor(user):
            # Signed in with the password alone: nothing but the set-up until it is done
            # (apps.users.middleware.StaffSecondFactorMiddleware).
            request.session[SETUP_PENDING_SESSION_KEY] = True
            return redirect("mfa_activate_totp")
        return response
