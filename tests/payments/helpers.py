import json
import time
import uuid

import stripe
from django.conf import settings


def intent_event(intent_id, *, type="payment_intent.succeeded", amount=9500, metadata=None,
                 status=None, error=None, event_id=None):
    status = status or {"payment_intent.succeeded": "succeeded",
                        "payment_intent.payment_failed": "requires_payment_method"}.get(type)
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": type,
        "created": int(time.time()),
        "data": {"object": {
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "amount_received": amount if status == "succeeded" else 0, "currency": "gbp",
            "status": status, "metadata": metadata or {},
            "last_payment_error": {"message": error} if error else None,
            "payment_method": None,
        }},
    }


def deliver(client, event, *, secret=None, timestamp=None, signature=None):
    """POST an event as Stripe would, signed with the SDK's own helper."""
    payload = json.dumps(event)
    if signature is None:
        signature = stripe.WebhookSignature.generate_signature_header(
            payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp=timestamp
        )
    headers = {"Stripe-Signature": signature} if signature else {}
    return client.post("/webhooks/stripe/", data=payload, content_type="application/json",
                       headers=headers)


def card_token(card: str) -> str:
    """What the Payment Element hands the page for a test card: a ConfirmationToken id,
    made with Stripe's test helper (POST /v1/test_helpers/confirmation_tokens) for a card
    number ("4242…") or an existing test PaymentMethod ("pm_card_visa")."""
    from apps.payments import gateway

    client = gateway.client()
    method = card if card.startswith("pm_") else client.v1.payment_methods.create(params={
        "type": "card",
        "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).id
    return client.v1.test_helpers.confirmation_tokens.create(
        params={"payment_method": method}).id


def pay(client, booking, confirmation_token: str):
    """What payment.js posts once Stripe.js has made the ConfirmationToken."""
    return client.post(f"/bookings/{booking.reference}/pay/",
                       {"confirmation_token": confirmation_token})
