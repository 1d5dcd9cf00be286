"""Test infrastructure: what the local fake Stripe adds to localstripe so that the portal's
production code paths run against it unchanged. Every addition follows a shape Stripe
documents; each is listed in ``extend`` and pinned by tests/payments/test_fake_stripe.py.

Never imported by the portal itself (only by ``manage.py fake_stripe``): localstripe is in
the ``demo`` extra, not in production installs.

What only a real Stripe test-mode account can confirm (checked against Stripe's docs, not
run): the real Payment Element's wallets and Link and its own validation messages; the
bank's 3-D Secure frame (the double shows one dialog); that ``use_stripe_sdk`` carried by
the ConfirmationToken makes ``next_action`` a ``use_stripe_sdk`` action for
``handleNextAction``; Stripe's idempotency retention (24 hours at least) and which errors
it saves; the combined statement descriptor limit (prefix + suffix ≤ 22 characters);
radar and dispute events as Stripe sends them (the tests build and sign those).
"""

import secrets
import time
from pathlib import Path

import stripe
from aiohttp import web
from localstripe import webhooks
from localstripe.errors import UserError
from localstripe.resources import Customer, PaymentIntent, PaymentMethod, Refund
from localstripe.server import get_post_data

DOUBLE_JS = Path(__file__).with_name("stripe-double.js")
DOUBLE_JS_PATH = "/double/v3/"

# ConfirmationTokens made by the double's createConfirmationToken or the test helper:
# id → the PaymentMethod it carries (and what Stripe returns about it).
confirmation_tokens: dict[str, dict] = {}


def extend(app: web.Application) -> None:
    """Add to localstripe's app, before it starts:
    - the Stripe.js double the payment page loads in the demo and the tests (Payment Element,
      elements.submit, createConfirmationToken, handleNextAction) at DOUBLE_JS_PATH;
    - POST /v1/confirmation_tokens (the double, publishable key) and
      POST /v1/test_helpers/confirmation_tokens (the SDK, secret key), and PaymentIntents
      created with ``confirmation_token`` and ``automatic_payment_methods``;
    - idempotency keys replayed and checked as Stripe does;
    - Stripe's 400 resource_missing for an unknown customer;
    - documented parameters localstripe refuses (description, statement_descriptor_suffix,
      a refund's reason);
    - GET /v1/webhook_endpoints built from the fake's webhook registrations.
    """
    app.router.add_get("/v1/webhook_endpoints", _list_webhook_endpoints)
    _accept_documented_parameters()
    _accept_created_filters()
    # Outermost first: they see what the client sees (errors already turned into responses)
    # and answer before localstripe's own authentication.
    app.middlewares.insert(0, _idempotency_middleware())
    app.middlewares.insert(1, _stripe_js_double_middleware())
    app.middlewares.insert(2, _unknown_customer_middleware())


def _accept_documented_parameters():
    """Parameters Stripe documents that localstripe refuses ("Unexpected …"): a
    PaymentIntent's ``description``, ``statement_descriptor_suffix``, ``confirmation_token``,
    ``automatic_payment_methods`` and ``return_url``, a Refund's ``reason``. The fake
    validates them as Stripe documents and keeps them on the object; a confirmation token
    becomes the PaymentIntent's payment method, as at Stripe."""

    def payment_intent_init(original):
        def __init__(self, *args, description=None, statement_descriptor_suffix=None,
                     confirmation_token=None, automatic_payment_methods=None, return_url=None,
                     **kwargs):
            if confirmation_token is not None:
                token = confirmation_tokens.get(confirmation_token)
                if token is None:
                    raise UserError(400, f"No such confirmation_token: '{confirmation_token}'",
                                    {"code": "resource_missing", "param": "confirmation_token"})
                if token["used"]:
                    raise UserError(400, "This ConfirmationToken has already been used.",
                                    {"param": "confirmation_token"})
                token["used"] = True
                kwargs["payment_method"] = token["payment_method"]
            if automatic_payment_methods is not None and kwargs.get("payment_method_types"):
                raise UserError(400, "You may only specify one of these parameters: "
                                     "automatic_payment_methods, payment_method_types.")
            if statement_descriptor_suffix is not None and (
                    len(statement_descriptor_suffix) > 22
                    or any(c in statement_descriptor_suffix for c in "<>\\'\"*")):
                raise UserError(400, "Invalid statement_descriptor_suffix")
            original(self, *args, **kwargs)
            self.description = description
            self.statement_descriptor_suffix = statement_descriptor_suffix
            self.automatic_payment_methods = automatic_payment_methods
            self.return_url = return_url or (
                confirmation_tokens[confirmation_token]["return_url"]
                if confirmation_token else None)
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


def _accept_created_filters():
    """Stripe's list endpoints take ``created`` (gt, gte, lt, lte: Unix times); localstripe's
    PaymentIntent and Refund lists refuse it. The fake applies it before paginating."""
    checks = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}

    def with_created(original):
        def list_all(url, *args, created=None, **kwargs):
            listed = original(url, *args, **kwargs)
            if created is not None:
                if not isinstance(created, dict) or not set(created) <= set(checks):
                    raise UserError(400, "Invalid created: use created[gt|gte|lt|lte]",
                                    {"param": "created"})
                bounds = [(checks[op], int(value)) for op, value in created.items()]
                listed._list = [item for item in listed._list
                                if all(check(int(item.created), bound)
                                       for check, bound in bounds)]
            return listed
        return staticmethod(list_all)

    PaymentIntent._api_list_all = with_created(PaymentIntent._api_list_all)
    Refund._api_list_all = with_created(Refund._api_list_all)


def _idempotency_middleware():
    """Idempotency keys as Stripe documents them (API reference, "Idempotent requests"):
    a POST repeated with a key already used by the same account gets the first response
    again, status and body, with ``Idempotent-Replayed: true``; the same key with other
    parameters or on another endpoint is refused with ``idempotency_error`` (400). Results
    are saved once the request was executed (2xx, and 402 card errors); a request refused
    before it ran saves nothing, so it can be retried with the same key. Keys live as long
    as the fake runs (Stripe keeps them at least 24 hours)."""
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


def _confirmation_token_object(token_id: str, payment_method, return_url: str | None) -> dict:
    """A ConfirmationToken as Stripe's API reference shows it."""
    created = int(time.time())
    return {
        "id": token_id, "object": "confirmation_token", "created": created,
        "expires_at": created + 12 * 3600, "livemode": False, "mandate_data": None,
        "payment_intent": None, "payment_method_options": None,
        "payment_method_preview": {
            "type": payment_method.type, "card": dict(payment_method.card),
            "billing_details": payment_method.billing_details,
            "allow_redisplay": "unspecified", "customer": None,
        },
        "return_url": return_url, "setup_future_usage": None, "setup_intent": None,
        "shipping": None, "use_stripe_sdk": True,
    }


def _new_confirmation_token(payment_method, return_url: str | None) -> dict:
    token_id = "ctoken_" + secrets.token_hex(12)
    token = _confirmation_token_object(token_id, payment_method, return_url)
    confirmation_tokens[token_id] = {"payment_method": payment_method.id,
                                     "return_url": return_url, "used": False, "object": token}
    return token


def _bearer(request) -> str:
    kind, _, key = request.headers.get("Authorization", "").partition(" ")
    return key if kind == "Bearer" else ""


def _stripe_js_double_middleware():
    """GET DOUBLE_JS_PATH: the Stripe.js double (no key, like js.stripe.com).
    POST /v1/confirmation_tokens: what Stripe.js's createConfirmationToken sends (the
    publishable key in the body, the Payment Element's card in ``payment_method_data``).
    POST /v1/test_helpers/confirmation_tokens: the API's test helper (secret key, an
    existing ``payment_method`` such as ``pm_card_visa``). GET /v1/confirmation_tokens/{id}
    retrieves one (secret key). localstripe has none of these."""

    async def create_from_stripe_js(request):
        data = await get_post_data(request, remove_auth=False) or {}
        if not str(data.get("key", "")).startswith("pk_"):
            raise UserError(401, "Invalid API Key provided: use a publishable key.")
        method_data = data.get("payment_method_data") or {}
        if method_data.get("type") != "card" or not isinstance(method_data.get("card"), dict):
            raise UserError(400, "payment_method_data[type] must be card for this account.",
                            {"param": "payment_method_data[type]"})
        card = {key: method_data["card"].get(key) for key in
                ("number", "exp_month", "exp_year", "cvc")}
        card["number"] = "".join(str(card["number"] or "").split())
        payment_method = PaymentMethod._api_create(
            type="card", card=card, billing_details=method_data.get("billing_details"))
        return _new_confirmation_token(payment_method, data.get("return_url"))

    async def create_from_test_helper(request):
        if not _bearer(request).startswith("sk_"):
            raise UserError(401, "Invalid API Key provided.")
        data = await get_post_data(request) or {}
        payment_method = PaymentMethod._api_retrieve(data.get("payment_method") or "")
        return _new_confirmation_token(payment_method, data.get("return_url"))

    @web.middleware
    async def middleware(request, handler):
        if request.method == "GET" and request.path == DOUBLE_JS_PATH:
            return web.Response(body=DOUBLE_JS.read_bytes(), content_type="application/javascript")
        try:
            if request.method == "POST" and request.path == "/v1/confirmation_tokens":
                return web.json_response(await create_from_stripe_js(request))
            if request.method == "POST" and request.path == "/v1/test_helpers/confirmation_tokens":
                return web.json_response(await create_from_test_helper(request))
            if request.method == "GET" and request.path.startswith("/v1/confirmation_tokens/"):
                token = confirmation_tokens.get(request.path.rsplit("/", 1)[1])
                if not _bearer(request).startswith("sk_"):
                    raise UserError(401, "Invalid API Key provided.")
                if token is None:
                    raise UserError(404, "No such confirmation_token",
                                    {"code": "resource_missing", "param": "id"})
                return web.json_response(token["object"])
        except UserError as error:
            return error.to_response()
        return await handler(request)

    return middleware


def _unknown_customer_middleware():
    """Creating a SetupIntent or PaymentIntent for a customer Stripe does not have is a 400
    ``invalid_request_error`` with ``code: resource_missing`` and ``param: customer``
    (Stripe's error object). localstripe lets SetupIntents through and answers a bare 404
    for PaymentIntents; this gives both Stripe's answer."""
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
