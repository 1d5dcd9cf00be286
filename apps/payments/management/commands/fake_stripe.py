"""Run the local fake Stripe (localstripe) for development, the demo and tests.

It listens on loopback only, keeps its data in memory (never in /tmp), and registers this
portal's webhook endpoint with the configured signing secret, so payments made against it
arrive at /webhooks/stripe/ exactly as Stripe's would. What it adds to localstripe (the
Payment Element double, confirmation tokens, idempotency, …) is in apps/payments/fake/.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.LOCAL_STRIPE_PORT)
        parser.add_argument(
            "--webhook-url",
            action="append",
            default=[],
            help="Where to deliver events (repeatable), e.g. http://127.0.0.1:8000/webhooks/stripe/",
        )

    def handle(self, *args, **options):
        if not settings.STRIPE_USES_LOCAL_FAKE:
            raise CommandError("STRIPE_API_BASE points at real Stripe; the fake is for local use.")
        # localstripe and aiohttp come with the demo extra, not the production image:
        # loaded only when the fake is started.
        from aiohttp import web
        from localstripe import resources, server, webhooks

        from apps.payments.fake import extend

        resources.store.dump_to_disk = lambda: None  # memory only: parallel runs stay apart
        extend(server.app)
        for index, url in enumerate(options["webhook_url"]):
            webhooks.register_webhook(f"portal{index}", url, settings.STRIPE_WEBHOOK_SECRET, None)
            self.stdout.write(f"Webhooks go to {url}")
        self.stdout.write(f"Fake Stripe on http://{options['host']}:{options['port']}")
        web.run_app(server.app, host=options["host"], port=options["port"], print=None,
                    access_log=None)
