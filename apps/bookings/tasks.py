"""Bookings' Celery tasks: the waiting list's offers and their expiry."""

from celery import shared_task

from .waitlist import waitlist_expire_offers, waitlist_offer_free_seats


@shared_task
def waitlist_offer_task(session_id: int) -> int:
    """Seats came free on the session: offer them to its list (see waitlist_seats_freed)."""
    return len(waitlist_offer_free_seats(session_id=session_id))


@shared_task
def waitlist_expire_offers_task() -> int:
    """Every minute (beat): unclaimed offers past their time pass to the next in line."""
    return len(waitlist_expire_offers())
