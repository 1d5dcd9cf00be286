"""Who a password login is for, as django-axes counts failures (AXES_USERNAME_CALLABLE).

The admin form sends `username`, allauth's password form `login`, and an email login
authenticates with `email`: all name one account. Emails compare case-insensitively, so
`Boss@Example.com` and `boss@example.com` share one failure count."""

from .models import normalize_email

CREDENTIAL_KEYS = ("username", "email", "login")


def login_identifier(request, credentials=None) -> str:
    sources = [credentials or {}, getattr(request, "POST", None) or {}]
    for source in sources:
        for key in CREDENTIAL_KEYS:
            value = source.get(key)
            if value:
                return normalize_email(str(value))
    return ""
