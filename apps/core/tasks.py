from celery import shared_task

from .emails import communication_send, communications_retry_failed


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=8,
)
def send_communication_task(self, communication_id: int) -> bool:
    return communication_send(communication_id=communication_id)


@shared_task
def retry_failed_emails_task() -> int:
    return communications_retry_failed()
