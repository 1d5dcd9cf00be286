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
        _accept_documented_parameters()
        # Outermost, so that it sees what the client sees (errors already turned into
        # responses): localstripe ignores idempotency keys, Stripe does not.
        server.app.middlewares.insert(0, _idempotency_middleware())
        server.app.middlewares.insert(1, _unknown_customer_middleware())
        for index, url in enumerate(options["webhook_url"]):
            webhooks.register_webhook(f"portal{index}", url, settings.STRIPE_WEBHOOK_SECRET, None)
            self.stdout.write(f"Webhooks go to {url}")
        self.stdout.write(f"Fake Stripe on http://{options['host']}:{options['port']}")
        web.run_app(server.app, host=options["host"], port=options["port"], print=None,
                    access_log=None)


def _accept_documented_parameters():
    """Parameters Stripe documents that localstripe refuses ("Unexpected …"): a
    PaymentIntent's ``description`` and ``statement_descriptor_suffix``, a Refund's
    ``reason``. The fake validates them as Stripe documents, keeps them on the object and
    returns them; it does nothing else with them."""
    from localstripe.errors import UserError
    from localstripe.resources import PaymentIntent, Refund

    def payment_intent_init(original):
        def __init__(self, *args, description=None, statement_descriptor_suffix=None,
                     **kwargs):
            if statement_descriptor_suffix is not None and (
                    len(statement_descriptor_suffix) > 22
                    or any(c in statement_descriptor_suffix for c in "<>\\'\"*")):
                raise UserError(400, "Invalid statement_descriptor_suffix")
            original(self, *args, **kwargs)
            self.description = description
            self.statement_descriptor_suffix = statement_descriptor_suffix
        return __init__

    def refund_init(original):
        def __init__(self, *args, reason=None, **kwargs):
            if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
                raise UserError(400, "Invalid reason")
            original(self, *args, **kwargs)
            self.reason = reason
        return __init__

    PaymentIntent.__init__ = payment_intent_init(PaymentIntent.__init__)
    Refund.__init__ = refund_init(Refund.__init__)


def _idempotency_middleware():
    """Idempotency keys as Stripe documents them (API reference, "Idempotent requests"):
    a POST repeated with a key already used by the same account gets the first response
    again, status and body, with ``Idempotent-Replayed: true``; the same key with other
    parameters or on another endpoint is refused with ``idempotency_error`` (400). Results
    are saved once the request was executed (2xx, and 402 card errors); a request refused
    before it ran saves nothing, so it can be retried with the same key. Keys live as long
    as the fake runs (Stripe keeps them at least 24 hours)."""
    from aiohttp import web

    replies: dict[tuple[str, str], tuple[str, bytes, int, bytes]] = {}

    @web.middleware
    async def middleware(request, handler):
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        sent = await request.read()  # aiohttp keeps it for the handler's own read
        scope = (request.headers.get("Authorization", ""), key)
        if scope in replies:
            path, first_body, status, body = replies[scope]
            if path != request.path or first_body != sent:
                return web.json_response({"error": {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                               "parameters they were first used with.",
                }}, status=400)
            return web.Response(status=status, body=body, content_type="application/json",
                                headers={"Idempotent-Replayed": "true"})
        response = await handler(request)
        if 200 <= response.status < 300 or response.status == 402:
            replies[scope] = (request.path, sent, response.status, response.body)
        return response

    return middleware


def _unknown_customer_middleware():
    """Creating a SetupIntent or PaymentIntent for a customer Stripe does not have is a 400
    ``invalid_request_error`` with ``code: resource_missing`` and ``param: customer``
    (Stripe's error object). localstripe lets SetupIntents through and answers a bare 404
    for PaymentIntents; this gives both Stripe's answer."""
    from aiohttp import web
    from localstripe.errors import UserError
    from localstripe.resources import Customer

    @web.middleware
    async def middleware(request, handler):
        if request.method == "POST" and request.path in ("/v1/setup_intents",
                                                         "/v1/payment_intents"):
            customer = (await request.post()).get("customer")
            if customer:
                try:
                    Customer._api_retrieve(customer)
                except UserError:
                    return web.json_response({"error": {
                        "type": "invalid_request_error", "code": "resource_missing",
                        "param": "customer", "message": f"No such customer: '{customer}'",
                    }}, status=400)
        return await handler(request)

    return middleware


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
