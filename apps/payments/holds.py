"""Seat holds that lapse, as the payments layer sees them: bookings gives the seats back
(apps.bookings.services, pure domain), then the PaymentIntents still open on those
bookings are cancelled so they can no longer be paid."""

from datetime import datetime

from celery import shared_task

from apps.bookings.services import booking_expire_hold, release_expired_holds

from .gateway import PaymentProviderError
from .services import payment_cancel_open_intents


def hold_expire(*, booking_id: int, now: datetime | None = None) -> bool:
    """Expire one lapsed hold (False if something else won), then cancel its open
    intents after commit."""
    if not booking_expire_hold(booking_id=booking_id, now=now):
        return False
    cancel_open_intents_task.delay_on_commit(booking_id)
    return True


def holds_release_expired(*, now: datetime | None = None) -> list[int]:
    """Expire every lapsed hold (one short transaction each), then cancel each expired
    booking's open intents after commit. Returns the booking ids."""
    expired = release_expired_holds(now=now)
    for booking_id in expired:
        cancel_open_intents_task.delay_on_commit(booking_id)
    return expired


@shared_task
def release_expired_holds_task() -> int:
    return len(holds_release_expired())


@shared_task(bind=True, autoretry_for=(PaymentProviderError,), retry_backoff=30,
             retry_backoff_max=600, max_retries=5, acks_late=True)
def cancel_open_intents_task(self, booking_id: int) -> int:
    """Stripe not answering is retried with backoff; after the last retry the shared
    failure handler (config/celery.py) alerts operations."""
    return payment_cancel_open_intents(booking_id=booking_id)
