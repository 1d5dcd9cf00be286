"""Run the local fake Stripe (localstripe) for development, the demo and tests.

It listens on loopback only, keeps its data in memory (never in /tmp), and registers this
portal's webhook endpoint with the configured signing secret, so payments made against it
arrive at /webhooks/stripe/ exactly as Stripe's would.
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
        from aiohttp import web
        from localstripe import resources, server, webhooks

        resources.store.dump_to_disk = lambda: None  # memory only: parallel runs stay apart
        server.app.router.add_get("/v1/webhook_endpoints", _list_webhook_endpoints)
        for index, url in enumerate(options["webhook_url"]):
            webhooks.register_webhook(f"portal{index}", url, settings.STRIPE_WEBHOOK_SECRET, None)
            self.stdout.write(f"Webhooks go to {url}")
        self.stdout.write(f"Fake Stripe on http://{options['host']}:{options['port']}")
        web.run_app(server.app, host=options["host"], port=options["port"], print=None,
                    access_log=None)


async def _list_webhook_endpoints(request):
    """GET /v1/webhook_endpoints in Stripe's documented list shape, built from the fake's own
    registrations, so `manage.py stripe_check` runs against the fake as against Stripe.
    localstripe has no webhook endpoint objects; its registrations become endpoints whose
    enabled events are the registered filter (``["*"]`` when none) and whose API version is
    the one this SDK sends."""
    import stripe
    from aiohttp import web
    from localstripe import webhooks

    endpoints = [
        {
            "id": f"we_{key}",
            "object": "webhook_endpoint",
            "url": hook.url,
            "enabled_events": list(hook.events) if hook.events else ["*"],
            "status": "enabled",
            "api_version": stripe.api_version,
            "livemode": False,
        }
        for key, hook in sorted(webhooks._webhooks.items())
    ]
    return web.json_response(
        {"object": "list", "data": endpoints, "has_more": False, "url": "/v1/webhook_endpoints"}
    )
