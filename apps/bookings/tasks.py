from celery import shared_task

from apps.payments.gateway import PaymentProviderError

from .services import release_expired_holds


@shared_task
def release_expired_holds_task() -> int:
    return len(release_expired_holds())


@shared_task(bind=True, autoretry_for=(PaymentProviderError,), retry_backoff=30,
             retry_backoff_max=600, max_retries=5, acks_late=True)
def cancel_open_intents_task(self, booking_id: int) -> int:
    """Stripe not answering is retried with backoff; after the last retry the shared
    failure handler (config/celery.py) alerts operations."""
    from apps.payments.services import payment_cancel_open_intents

    return payment_cancel_open_intents(booking_id=booking_id)
