from allauth.account import forms as allauth_forms
from django import forms

from .models import User, normalize_email
from .selectors import user_for_email
from .staff_auth import is_staff_account


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "phone", "company_name", "marketing_consent"]
        labels = {
            "company_name": "Company",
            "marketing_consent": "Email me about new courses and certificate renewals",
        }


class RequestLoginCodeForm(allauth_forms.RequestLoginCodeForm):
    """Ask for a sign-in code (ACCOUNT_FORMS["request_login_code"]).

    allauth sends the code to the first account that has the address in any state, even
    one where it is only a pending change; we route by `user_for_email`, where a pending
    address routes nowhere. Codes are for customers only: staff sign in with a password
    and a second factor, so a staff address gets no code (even while locked out). As
    before, the answer never says whether an account exists.
    """

    def clean_email(self) -> str:
        email = normalize_email(super().clean_email())
        user = user_for_email(email=email) if email else None
        if user is not None and (not user.is_active or is_staff_account(user)):
            user = None
        self._user = user
        return email


class AddEmailForm(allauth_forms.AddEmailForm):
    """Change one's address (ACCOUNT_FORMS["add_email"]). An address that already routes to
    another account cannot be taken over by verifying it here: its owner signs in with it."""

    def clean_email(self) -> str:
        email = normalize_email(super().clean_email())
        owner = user_for_email(email=email)
        if owner is not None and owner.pk != self.user.pk:
            raise forms.ValidationError(
                "This address already has its own account with us. To see its bookings, "
                "sign out and sign in with that address.")
        return email


class LoginForm(allauth_forms.LoginForm):
    """The password sign-in at /accounts/login/ (ACCOUNT_FORMS["login"]): staff's, followed
    by their second factor. allauth drops the password field when sign-up asks for none
    and then mails a code from here, around RequestLoginCodeForm's rules; here the password
    is always asked for. Customers sign in at /accounts/login/code/."""

    def _setup_password_field(self) -> None:
        self.fields["password"].required = True


class ResetPasswordForm(allauth_forms.ResetPasswordForm):
    """Forgotten password (ACCOUNT_FORMS["reset_password"]): the reset link goes to the
    account the address routes to (`user_for_email`), never through a pending change."""

    def clean_email(self) -> str:
        email = super().clean_email()
        user = user_for_email(email=email)
        self.users = [user] if user is not None and user.is_active else []
        return email
