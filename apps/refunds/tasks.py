from celery import shared_task

from apps.payments.gateway import PaymentProviderError

from .services import refund_submit, refunds_sweep_stuck


@shared_task(bind=True, autoretry_for=(PaymentProviderError,), retry_backoff=10,
             retry_backoff_max=600, max_retries=10, acks_late=True)
def submit_refund_task(self, refund_id: int) -> str:
    return refund_submit(refund_id=refund_id).status


@shared_task
def sweep_stuck_refunds_task() -> dict:
    return refunds_sweep_stuck()
