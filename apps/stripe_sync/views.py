import logging

import stripe
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.payments import gateway

from .tasks import stripe_event_dispatch
from .webhooks import stripe_event_store

logger = logging.getLogger(__name__)


def _reject(message):
    return JsonResponse({"error": {"code": "bad_signature", "message": message}}, status=400)


@csrf_exempt  # Stripe cannot send our CSRF token; the signature authenticates instead.
@require_POST
def stripe_webhook(request):
    signature = request.headers.get("Stripe-Signature", "")
    if not signature:
        return _reject("Missing Stripe-Signature header.")
    try:
        event = gateway.construct_event(request.body, signature)
    except stripe.SignatureVerificationError:
        return _reject("The signature does not match or is too old.")
    except ValueError:
        return _reject("The payload is not a valid event.")
    # Nothing else on the path: one INSERT (a repeat delivery inserts nothing), then the
    # drain of its slot is queued unless one is already queued or running.
    stored_id = stripe_event_store(event, raw=request.body)
    if stored_id is not None:
        try:
            stripe_event_dispatch(event_id=stored_id)
        except Exception:
            # Stored safely: the sweeper enqueues it once the broker is back.
            logger.exception("Could not enqueue Stripe event %s", event["id"])
    return JsonResponse({"received": True, "duplicate": stored_id is None})
