import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.core.emails import communication_queue
from apps.core.models import Communication
from apps.payments.models import StripeEvent

from .reconcile import reconcile_changes
from .webhooks import (
    stripe_event_lock,
    stripe_event_note_failure,
    stripe_event_park,
    stripe_event_process,
    stripe_event_release,
    stripe_events_release_all,
    stripe_events_take,
)

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def process_stripe_event_task(self, event_id: int) -> str:
    """Retries with exponential backoff (10 s, 20 s, 40 s ...); after the last one the
    event is parked for staff with its error, never dropped."""
    try:
        with stripe_event_lock(event_id):
            return stripe_event_process(event_id=event_id)
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
        if self.request.retries >= self.max_retries:
            stripe_event_park(event_id=event_id, error=f"gave up after retries: {message}")
            return "parked"
        stripe_event_note_failure(event_id=event_id, error=message)
        raise self.retry(exc=error, countdown=10 * 2**self.request.retries) from error


# Draining: the intake does not queue a task per event. Each stored event belongs to a
# slot (id % STRIPE_EVENT_DRAINS); a drain task per slot works through that slot's pending
# events, one after the other, in the same worker process: one task message, one
# connection and one log line for many events instead of one per event. The intake queues
# a drain only when none of its slot is queued or running (a flag in the cache); a drain
# clears the flag before its last look, so an event stored meanwhile is either seen by
# that look or queues a new drain. Slots let as many worker processes drain at once.
DRAIN_BATCH = 20  # events taken (and locked) per query
DRAIN_RUN = 200  # events per task run, then a fresh run at the back of the queue
DRAIN_FLAG_SECONDS = 30  # a lost drain (its message gone) blocks its slot this long


def _drain_flag(slot: int) -> str:
    return f"stripe-events:drain:{slot}"


def stripe_event_dispatch(*, event_id: int) -> None:
    """The intake stored `event_id`: make sure a drain of its slot will see it."""
    slots = settings.STRIPE_EVENT_DRAINS
    slot = event_id % slots
    if cache.add(_drain_flag(slot), 1, timeout=DRAIN_FLAG_SECONDS) is False:
        return  # queued or running, and it looks again once the flag is cleared
    try:
        # The slot count travels with the task: a worker configured differently (a deploy
        # changing STRIPE_EVENT_DRAINS) still drains the slot the intake meant.
        drain_stripe_events_task.delay(slot, slots)
    except Exception:
        cache.delete(_drain_flag(slot))  # the next delivery tries again; the sweeper too
        raise


@shared_task
def drain_stripe_events_task(slot: int, slots: int | None = None) -> int:
    return stripe_events_drain(slot=slot, slots=slots)


def stripe_events_drain(*, slot: int, slots: int | None = None, run: int = DRAIN_RUN) -> int:
    """Process the pending events of one slot; returns how many this run took."""
    slots = slots or settings.STRIPE_EVENT_DRAINS
    taken = 0
    # Not taken again in this run: events another session holds (handed to their own
    # tasks once) and events that failed here and whose retry could not be queued (the
    # broker is down: the sweeper queues them once it is back).
    left: set[int] = set()
    while True:
        taken += _drain_pass(slot=slot, slots=slots, budget=run - taken, left=left)
        if taken >= run:
            # More may be waiting: a fresh run queues behind the tasks that came meanwhile
            # (the confirmation emails); the flag stays, so the intake queues nothing.
            cache.set(_drain_flag(slot), 1, timeout=DRAIN_FLAG_SECONDS)
            try:
                drain_stripe_events_task.delay(slot, slots)
            except Exception:
                cache.delete(_drain_flag(slot))
                logger.exception("Could not queue the next drain of slot %s", slot)
            return taken
        cache.delete(_drain_flag(slot))
        # The last look, after the flag is gone: an event stored before the intake saw the
        # flag is found now; one stored later queued a new drain.
        last = _drain_pass(slot=slot, slots=slots, budget=run - taken, left=left)
        taken += last
        # cache.add answers None when the cache is unreachable: stop then too (the
        # sweeper finds what is left) rather than loop.
        if not last or cache.add(_drain_flag(slot), 1, timeout=DRAIN_FLAG_SECONDS) is not True:
            return taken  # nothing came, or what came queued a new drain, which takes it


def _drain_pass(*, slot: int, slots: int, budget: int, left: set[int]) -> int:
    """One walk through the slot's pending events in id order, taking those nobody else
    holds. Returns how many it took."""
    taken = 0
    after = 0
    while taken < budget:
        batch = stripe_events_take(slot=slot, slots=slots, after=after,
                                   limit=min(DRAIN_BATCH, budget - taken))
        if not batch:
            break
        after = batch[-1][0]
        try:
            for event_id, held in batch:
                if event_id in left:
                    continue
                if held:
                    if not _drain_one(event_id):
                        left.add(event_id)
                    taken += 1
                else:
                    left.add(event_id)
                    _leave_to_its_task(event_id)
        finally:
            stripe_events_release_all()
    return taken


def _leave_to_its_task(event_id: int) -> None:
    """Another session holds the event: its own task (a retry, staff's reprocess, the
    sweeper's), another drain, or the backend of a process that died and that PostgreSQL
    has not noticed yet. Its own task waits for the lock and then does what is left, so
    nothing is lost in the last case; in the others it finds the event processed."""
    try:
        process_stripe_event_task.delay(event_id)
    except Exception:
        logger.exception("Could not queue Stripe event %s, held by another session", event_id)


def _drain_one(event_id: int) -> bool:
    """Process one event; a failure goes to the event's own task, which retries it with
    backoff and parks it in the end, as if this had been its first try. False when it
    failed and its retry could not be queued (it is left for the sweeper)."""
    try:
        stripe_event_process(event_id=event_id)
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
        try:
            process_stripe_event_task.apply_async((event_id,), countdown=10, retries=1)
        except Exception:
            logger.exception("Could not queue the retries of Stripe event %s", event_id)
            stripe_event_release(event_id=event_id)
            return False
        stripe_event_note_failure(event_id=event_id, error=message, unless_noted=True)
    return True


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
