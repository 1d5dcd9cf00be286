from celery import shared_task
from django.db import InterfaceError, OperationalError

from .services import certificates_issue_for_booking

# Worth another try: the database went away or was busy, or the PDF could not be written or
# read (storage, fonts: WeasyPrint raises OSError). A bug (any other error) fails at once
# and is reported by the shared failure handler (config/celery.py).
RETRY_ON = (OperationalError, InterfaceError, OSError)


@shared_task(bind=True, autoretry_for=RETRY_ON, retry_backoff=60, retry_backoff_max=1800,
             max_retries=5, acks_late=True)
def issue_certificates_task(self, booking_id: int) -> int:
    return len(certificates_issue_for_booking(booking_id=booking_id))
