import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.emails import communication_queue
from apps.core.models import Communication
from apps.payments.models import StripeEvent

from .reconcile import reconcile_changes
from .webhooks import stripe_event_note_failure, stripe_event_park, stripe_event_process

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def process_stripe_event_task(self, event_id: int) -> str:
    """Retries with exponential backoff (10 s, 20 s, 40 s ...); after the last one the
    event is parked for staff with its error, never dropped."""
    try:
        return stripe_event_process(event_id=event_id)
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
        if self.request.retries >= self.max_retries:
            stripe_event_park(event_id=event_id, error=f"gave up after retries: {message}")
            return "parked"
        stripe_event_note_failure(event_id=event_id, error=message)
        raise self.retry(exc=error, countdown=10 * 2**self.request.retries) from error


@shared_task
def sweep_stripe_events_task() -> int:
    return stripe_events_sweep()


@shared_task
def reconcile_payments_task() -> int:
    """Nightly (03:15 London): repair from Stripe everything that changed since the last
    finished run, and tell staff what differed."""
    now = timezone.now()
    report, _ = reconcile_changes(fix=True, now=now)
    if report.differences:
        communication_queue(
            kind=Communication.Kind.STAFF_ALERT, recipient=settings.OPERATIONS_EMAIL,
            template="emails/reconciliation_report.txt",
            context={"report": report, "now": now},
            dedupe_key=f"reconcile:{now:%Y-%m-%dT%H:%M}",
        )
    return len(report.differences)


# Enqueueing the processing task: here, beside it, so that webhooks.py (which the task
# calls) never imports this module.
def stripe_event_requeue(*, event_ids: list[int]) -> int:
    """Staff: put parked events back in the queue (admin 'reprocess')."""
    with transaction.atomic():
        ids = list(
            StripeEvent.objects.filter(pk__in=event_ids)
            .exclude(status=StripeEvent.Status.PROCESSED)
            .values_list("pk", flat=True)
        )
        StripeEvent.objects.filter(pk__in=ids).update(status=StripeEvent.Status.PENDING,
                                                      attempts=0)
        for pk in ids:
            process_stripe_event_task.delay_on_commit(pk)
    return len(ids)


def stripe_events_sweep(*, older_than: timedelta = timedelta(minutes=2)) -> int:
    """Enqueue events stored while the broker was unreachable."""
    # attempts == 0: never picked up. An event in its retry backoff has attempts >= 1 and a
    # retry already scheduled; sweeping it would start a second retry chain.
    stale = StripeEvent.objects.filter(
        status=StripeEvent.Status.PENDING, attempts=0,
        received_at__lt=timezone.now() - older_than,
    ).values_list("pk", flat=True)
    count = 0
    for pk in stale:
        process_stripe_event_task.delay(pk)
        count += 1
    return count
