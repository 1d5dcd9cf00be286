"""Check the configured Stripe account before going live (or after changing keys).

With the configured keys it checks that the account answers, that the secret and
publishable keys are of the same mode (test or live), and that a webhook endpoint for this
site (``SITE_URL`` + the webhook path) exists, is enabled, receives every event the portal
handles and speaks a compatible API version. It prints each check and what is missing.

Exit status: 0 everything is in place; 1 something is missing or wrong (fix what is
printed); 2 the check could not run (no keys, or Stripe did not answer).
"""

import stripe
from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from apps.payments import gateway
from apps.stripe_sync.webhooks import HANDLERS


def _release(version: str | None) -> str:
    """Stripe API versions are ``YYYY-MM-DD.release``; versions of one release are
    backwards compatible with each other, so the release name is what must agree."""
    return (version or "").partition(".")[2]


def _mode(key: str) -> str:
    for prefix, mode in (("sk_live_", "live"), ("rk_live_", "live"), ("pk_live_", "live"),
                         ("sk_test_", "test"), ("rk_test_", "test"), ("pk_test_", "test")):
        if key.startswith(prefix):
            return mode
    return "unknown"


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        problems: list[str] = []
        webhook_url = settings.SITE_URL.rstrip("/") + reverse("payments:stripe-webhook")
        events = sorted(HANDLERS)

        self.stdout.write(f"Stripe API: {settings.STRIPE_API_BASE} (SDK API version "
                          f"{stripe.api_version})")
        if not settings.STRIPE_SECRET_KEY or not settings.STRIPE_PUBLISHABLE_KEY:
            self.stderr.write("STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY must both be set.")
            raise SystemExit(2)
        if not settings.STRIPE_WEBHOOK_SECRET:
            problems.append("STRIPE_WEBHOOK_SECRET is not set: every webhook would be refused.")
        secret_mode = _mode(settings.STRIPE_SECRET_KEY)
        publishable_mode = _mode(settings.STRIPE_PUBLISHABLE_KEY)
        if secret_mode != publishable_mode:
            problems.append(f"The secret key is a {secret_mode} key but the publishable key "
                            f"is a {publishable_mode} key: use keys of one mode.")
        else:
            self.stdout.write(f"ok    keys are both {secret_mode}-mode keys")

        client = gateway.client()
        try:
            client.v1.balance.retrieve()
            endpoints = [endpoint.to_dict() for endpoint in
                         client.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter()]
        except stripe.AuthenticationError as error:
            self.stderr.write(f"Stripe refused the secret key: {error.user_message or error}")
            raise SystemExit(2) from error
        except stripe.StripeError as error:
            self.stderr.write(f"Stripe could not be reached: {error.user_message or error}")
            raise SystemExit(2) from error
        self.stdout.write("ok    the account answers")

        matching = [endpoint for endpoint in endpoints if endpoint["url"] == webhook_url]
        if not matching:
            problems.append(
                f"No webhook endpoint sends to {webhook_url}. Add one in the Stripe dashboard "
                f"(Developers → Webhooks) with these events: {', '.join(events)}."
            )
        for endpoint in matching:
            label = f"endpoint {endpoint['id']}"
            if endpoint.get("status") != "enabled":
                problems.append(f"{label} is {endpoint.get('status')}: enable it.")
            enabled = set(endpoint.get("enabled_events") or [])
            missing = [] if "*" in enabled else [name for name in events if name not in enabled]
            if missing:
                problems.append(f"{label} does not receive: {', '.join(missing)}.")
            else:
                self.stdout.write(f"ok    {label} receives every handled event")
            version = endpoint.get("api_version")
            if version and _release(version) != _release(stripe.api_version):
                problems.append(
                    f"{label} uses API version {version}; this portal is built for "
                    f"{stripe.api_version}. Create the endpoint with that API version."
                )
            elif not version:
                self.stdout.write(f"note  {label} uses the account's default API version; "
                                  f"the portal is built for {stripe.api_version}")

        for problem in problems:
            self.stdout.write(f"MISSING {problem}")
        if problems:
            self.stdout.write(f"{len(problems)} problem(s) found.")
            raise SystemExit(1)
        self.stdout.write("Stripe is ready for this portal.")
