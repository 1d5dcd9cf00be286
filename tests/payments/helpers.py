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
