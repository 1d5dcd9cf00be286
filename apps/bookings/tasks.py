from celery import shared_task

from .services import release_expired_holds


@shared_task
def release_expired_holds_task() -> int:
    return len(release_expired_holds())


@shared_task(bind=True, max_retries=5, default_retry_delay=30)
def cancel_open_intents_task(self, booking_id: int) -> int:
    from apps.payments.services import payment_cancel_open_intents

    return payment_cancel_open_intents(booking_id=booking_id)


from . import waitlist_tasks  # noqa: E402, F401  (Celery autodiscovery finds tasks.py only)
