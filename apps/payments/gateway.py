"""The only place that talks to Stripe, through the official SDK.

In tests and the offline demo STRIPE_API_BASE points the same SDK at a local fake Stripe;
nothing here knows which one it talks to.
"""

import json
from functools import lru_cache

import stripe
from django.conf import settings


class PaymentProviderError(Exception):
    """Stripe could not be reached or answered with a server error: try again later."""


class PaymentRequestRejected(Exception):
    """Stripe refused the request as invalid (e.g. cancelling an intent that succeeded)."""


class UnknownCustomer(PaymentRequestRejected):
    """Stripe does not know the customer id we stored (keys moved from test to live, or
    from the local fake to Stripe): the caller makes a new customer."""


class CardDeclined(Exception):
    def __init__(self, message: str, *, code: str = "", payment_intent_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.payment_intent_id = payment_intent_id


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str, retries: int, timeout: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def client() -> stripe.StripeClient:
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
        settings.STRIPE_TIMEOUT_SECONDS,
    )


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except stripe.CardError as error:
        body = (error.json_body or {}).get("error", {})
        intent = body.get("payment_intent") or {}
        raise CardDeclined(
            error.user_message or "Your card was declined.",
            code=error.code or "",
            payment_intent_id=intent.get("id") if isinstance(intent, dict) else intent,
        ) from error
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing" and error.param == "customer":
            raise UnknownCustomer(error.user_message or str(error)) from error
        raise PaymentRequestRejected(error.user_message or str(error)) from error
    except stripe.IdempotencyError as error:
        raise PaymentRequestRejected(error.user_message or str(error)) from error
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise PaymentProviderError(str(error)) from error
    except (stripe.APIError, stripe.AuthenticationError, stripe.PermissionError) as error:
        raise PaymentProviderError(str(error)) from error


def create_customer(*, email: str, name: str, user_id: int) -> str:
    customer = _call(
        client().v1.customers.create,
        params={"email": email, "name": name, "metadata": {"user_id": str(user_id)}},
        options={"idempotency_key": f"customer-{user_id}"},
    )
    return customer.id


def create_payment_intent(*, amount: int, currency: str, customer_id: str,
                          confirmation_token: str, metadata: dict, idempotency_key: str,
                          description: str = "", statement_descriptor_suffix: str = "") -> dict:
    """Create and confirm a PaymentIntent from the Payment Element's ConfirmationToken
    (Stripe's "Finalize payments on the server" flow). The payment methods are the ones the
    Stripe account enables (cards always; wallets and Link where enabled); the token
    carries the page's return_url and use_stripe_sdk, so a next action (3-D Secure) is
    handled by stripe.handleNextAction on the page. No setup_future_usage: the card is not
    saved for later."""
    optional = {}
    if description:
        optional["description"] = description[:1000]
    if statement_descriptor_suffix:
        optional["statement_descriptor_suffix"] = statement_descriptor_suffix
    intent = _call(
        client().v1.payment_intents.create,
        params={
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer_id,
            "confirmation_token": confirmation_token,
            "automatic_payment_methods": {"enabled": True},
            "confirm": True,
            "metadata": metadata,
            **optional,
        },
        options={"idempotency_key": idempotency_key},
    )
    return intent.to_dict()


def retrieve_payment_intent(payment_intent_id: str) -> dict:
    return _call(client().v1.payment_intents.retrieve, payment_intent_id).to_dict()


def retrieve_refund(refund_id: str) -> dict:
    return _call(client().v1.refunds.retrieve, refund_id).to_dict()


def retrieve_dispute(dispute_id: str) -> dict:
    return _call(client().v1.disputes.retrieve, dispute_id).to_dict()


def list_events(*, created_gte: int, page_size: int = 100):
    """Stripe's events from a moment on (newest first at Stripe; the fake lists oldest
    first): an iterator over dicts, paged by the SDK."""
    page = _call(client().v1.events.list,
                 params={"created": {"gte": created_gte}, "limit": page_size})
    for event in page.auto_paging_iter():
        yield event.to_dict()


def retrieve_charge(charge_id: str) -> dict:
    return _call(client().v1.charges.retrieve, charge_id).to_dict()


def cancel_payment_intent(payment_intent_id: str) -> dict:
    return _call(client().v1.payment_intents.cancel, payment_intent_id).to_dict()


def retrieve_card(payment_method_id: str) -> tuple[str, str]:
    """(brand, last4) of a card payment method; nothing else about the card is kept."""
    method = _call(client().v1.payment_methods.retrieve, payment_method_id).to_dict()
    card = method.get("card") or {}
    return card.get("brand", ""), card.get("last4", "")


def create_refund(*, payment_intent_id: str, amount: int, idempotency_key: str,
                  metadata: dict, reason: str = "") -> dict:
    """``reason``: one of Stripe's (requested_by_customer, duplicate, fraudulent) or ""."""
    params = {"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata}
    if reason:
        params["reason"] = reason
    refund = _call(
        client().v1.refunds.create,
        params=params,
        options={"idempotency_key": idempotency_key},
    )
    return refund.to_dict()


def list_refunds(*, payment_intent_id: str) -> list[dict]:
    page = _call(client().v1.refunds.list, params={"payment_intent": payment_intent_id,
                                                    "limit": 100})
    refunds = [refund.to_dict() for refund in page.auto_paging_iter()]
    return [refund for refund in refunds
            if refund.get("payment_intent") in (None, payment_intent_id)]


def _reject_non_json_constant(name: str):
    raise ValueError(f"{name} is not JSON.")  # Python's json accepts NaN and Infinity


def construct_event(payload: bytes, signature: str) -> dict:
    """Verify a webhook delivery and return the event as plain JSON data.

    Raises SignatureVerificationError, or ValueError (with a reason) for a signed body that
    is not an event: not JSON, not an object, no string id or type, a data.object that is
    not an object. The SDK's own parser is not used: it fails on such bodies with
    AttributeError/TypeError, and its StripeObjects do not always serialize back to JSON.
    """
    stripe.WebhookSignature.verify_header(payload, signature, settings.STRIPE_WEBHOOK_SECRET,
                                          stripe.Webhook.DEFAULT_TOLERANCE)
    event = json.loads(payload, parse_constant=_reject_non_json_constant)
    if not isinstance(event, dict):
        raise ValueError("The payload is not a JSON object.")
    for key, longest in (("id", 255), ("type", 100)):
        if not isinstance(event.get(key), str) or not 0 < len(event[key]) <= longest:
            raise ValueError(f"The event's {key} must be a string of 1 to {longest} characters.")
    created = event.get("created")
    if created is not None and (type(created) is not int or not 0 <= created < 2**37):
        raise ValueError("The event's created time must be a Unix timestamp.")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise ValueError("The event's data.object must be an object.")
    return event
