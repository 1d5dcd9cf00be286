"""System checks for the payment settings (run by `manage.py check`, CI's deploy check)."""

from django.conf import settings
from django.core.checks import Warning, register

SDK_BACKOFF_SECONDS_PER_RETRY = 2  # stripe-python's backoff stays under 2 s a retry


def stripe_wait_seconds() -> int:
    retries = settings.STRIPE_MAX_NETWORK_RETRIES
    return (retries + 1) * settings.STRIPE_TIMEOUT_SECONDS + retries * SDK_BACKOFF_SECONDS_PER_RETRY


@register()
def stripe_waits_fit_in_the_web_timeout(app_configs, **kwargs):
    waited = stripe_wait_seconds()
    if waited >= settings.WEB_TIMEOUT_SECONDS - 5:
        return [Warning(
            f"A payment request can wait up to {waited} s for Stripe "
            f"(STRIPE_MAX_NETWORK_RETRIES={settings.STRIPE_MAX_NETWORK_RETRIES}, "
            f"STRIPE_TIMEOUT_SECONDS={settings.STRIPE_TIMEOUT_SECONDS}), which does not end "
            f"5 s inside the web worker timeout (WEB_TIMEOUT_SECONDS="
            f"{settings.WEB_TIMEOUT_SECONDS}): the worker would be killed mid-payment.",
            hint="Lower STRIPE_TIMEOUT_SECONDS or STRIPE_MAX_NETWORK_RETRIES, or raise the "
                 "web timeout (gunicorn --timeout) and WEB_TIMEOUT_SECONDS together.",
            id="payments.W001",
        )]
    return []
