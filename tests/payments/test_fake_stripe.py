"""The local fake Stripe's additions (apps/payments/fake) pinned to Stripe's documented
request and response shapes, so that code which passes against the fake is written for
Stripe. A real localstripe process, through the SDK where the portal uses the SDK and over
HTTP where Stripe.js would."""

import pytest
import requests

from apps.payments import gateway

TOKEN_FIELDS = {  # the ConfirmationToken object in Stripe's API reference
    "id", "object", "created", "expires_at", "livemode", "mandate_data", "payment_intent",
    "payment_method_options", "payment_method_preview", "return_url", "setup_future_usage",
    "setup_intent", "shipping", "use_stripe_sdk",
}


def from_stripe_js(base, **card):
    """POST /v1/confirmation_tokens as Stripe.js sends it: publishable key in the body."""
    data = {"key": "pk_test_local", "payment_method_data[type]": "card",
            "return_url": "https://portal.example/bookings/BK-TEST/"}
    for name, value in {"number": "4242424242424242", "exp_month": "12", "exp_year": "30",
                        "cvc": "123", **card}.items():
        data[f"payment_method_data[card][{name}]"] = value
    return requests.post(f"{base}/v1/confirmation_tokens", data=data, timeout=5)


def test_a_confirmation_token_from_stripe_js_has_stripes_shape(fake_stripe):
    response = from_stripe_js(fake_stripe)

    assert response.status_code == 200
    token = response.json()
    assert set(token) == TOKEN_FIELDS
    assert token["object"] == "confirmation_token" and token["id"].startswith("ctoken_")
    assert token["payment_method_preview"]["type"] == "card"
    assert token["payment_method_preview"]["card"]["last4"] == "4242"
    assert token["return_url"] == "https://portal.example/bookings/BK-TEST/"
    assert token["use_stripe_sdk"] is True
    assert token["expires_at"] > token["created"]


def test_stripe_js_must_use_a_publishable_key(fake_stripe):
    response = requests.post(f"{fake_stripe}/v1/confirmation_tokens",
                             data={"key": "sk_test_local", "payment_method_data[type]": "card"},
                             timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_the_sdk_test_helper_makes_and_retrieves_tokens(fake_stripe):
    client = gateway.client()
    token = client.v1.test_helpers.confirmation_tokens.create(
        params={"payment_method": "pm_card_visa"})
    again = client.v1.confirmation_tokens.retrieve(token.id)
    assert again.id == token.id and again.object == "confirmation_token"


def test_a_payment_intent_confirmed_with_a_token_charges_its_card_once(fake_stripe):
    token = from_stripe_js(fake_stripe).json()["id"]
    client = gateway.client()
    params = {"amount": 5000, "currency": "gbp", "confirm": True, "confirmation_token": token,
              "automatic_payment_methods": {"enabled": True}}

    intent = client.v1.payment_intents.create(params=params)

    assert intent.status == "succeeded"
    assert intent.payment_method.startswith("pm_")
    assert intent.return_url == "https://portal.example/bookings/BK-TEST/"
    with pytest.raises(Exception) as used:
        client.v1.payment_intents.create(params=params)
    assert "already been used" in str(used.value)


def test_an_unknown_token_is_resource_missing(fake_stripe):
    with pytest.raises(Exception) as error:
        gateway.client().v1.payment_intents.create(params={
            "amount": 5000, "currency": "gbp", "confirm": True,
            "confirmation_token": "ctoken_missing"})
    assert error.value.code == "resource_missing"
    assert error.value.param == "confirmation_token"


def test_automatic_and_listed_payment_method_types_are_exclusive(fake_stripe):
    token = from_stripe_js(fake_stripe).json()["id"]
    with pytest.raises(Exception) as error:
        gateway.client().v1.payment_intents.create(params={
            "amount": 5000, "currency": "gbp", "confirmation_token": token,
            "automatic_payment_methods": {"enabled": True}, "payment_method_types": ["card"]})
    assert "only specify one" in str(error.value)


def test_the_stripe_js_double_defines_only_window_stripe(fake_stripe, settings):
    """localstripe's own script declared a global `class Element`, which broke htmx."""
    source = requests.get(settings.STRIPE_JS_URL, timeout=5).text
    assert source.lstrip().startswith("//")
    body = source[source.index("(function () {"):]
    assert body.rstrip().endswith("})();")
    assert "window.Stripe = Stripe;" in body
    assert "window." not in body.replace("window.Stripe = Stripe;", "")


def test_lists_are_filtered_on_created_as_stripe_does(fake_stripe):
    import time

    client = gateway.client()
    token = from_stripe_js(fake_stripe).json()["id"]
    made = client.v1.payment_intents.create(params={
        "amount": 700, "currency": "gbp", "confirm": True, "confirmation_token": token})
    later = int(time.time()) + 3600

    newer = client.v1.payment_intents.list(params={"created": {"gte": made.created}})
    none = client.v1.payment_intents.list(params={"created": {"gte": later}})

    assert made.id in [intent.id for intent in newer.auto_paging_iter()]
    assert list(none.auto_paging_iter()) == []
