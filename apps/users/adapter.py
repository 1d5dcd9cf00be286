"""allauth's account adapter (ACCOUNT_ADAPTER): addresses are normalised by the one function
the whole project compares them with."""

from allauth.account.adapter import DefaultAccountAdapter

from .models import normalize_email


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        return normalize_email(super().clean_email(email))
