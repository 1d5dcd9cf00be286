from celery import shared_task

from .services import certificates_issue_for_booking


@shared_task(bind=True, max_retries=5, default_retry_delay=60, acks_late=True)
def issue_certificates_task(self, booking_id: int) -> int:
    return len(certificates_issue_for_booking(booking_id=booking_id))
