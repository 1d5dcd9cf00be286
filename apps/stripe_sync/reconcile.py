"""Reconciliation: compare Stripe's PaymentIntents and refunds with our records.

Differences are reported with both values; with `fix` they are repaired through the same
services the webhooks use, so a missed webhook is applied exactly as if it had arrived.
Safe to run twice and while webhooks arrive: those services lock and re-check.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import stripe
from django.utils import timezone

from apps.payments import gateway
from apps.payments.disputes import dispute_apply_stripe, dispute_payment
from apps.payments.models import Dispute, Payment, ReconciliationRun
from apps.payments.services import (
    INTENT_STATUS,
    find_payment_for_intent,
    payment_count_succeeded,
    payment_sync_from_stripe,
)
from apps.refunds.models import Refund
from apps.refunds.services import payment_refund_unneeded, refund_apply_stripe


@dataclass
class Difference:
    kind: str
    stripe_id: str
    ours: str
    stripe: str
    fixed: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    intents_checked: int = 0
    refunds_checked: int = 0
    differences: list[Difference] = None
    disputes_checked: int | None = 0  # None: this Stripe has no dispute list (the fake)

    def __post_init__(self):
        self.differences = self.differences or []


def _created(obj: dict) -> datetime:
    return datetime.fromtimestamp(int(obj.get("created") or 0), tz=UTC)


def _expected_status(intent: dict) -> set[str]:
    """Our payment statuses that agree with the intent's."""
    status = intent.get("status")
    if status == "succeeded":
        return Payment.MONEY_ARRIVED
    if status == "requires_payment_method" and intent.get("last_payment_error"):
        return {Payment.Status.FAILED}
    if status in INTENT_STATUS:
        return {INTENT_STATUS[status], Payment.Status.FAILED}
    return set()


def _check_intent(intent: dict, *, fix: bool, report: Report) -> None:
    payment = find_payment_for_intent(intent)
    if payment is None:
        if intent.get("status") == "succeeded" and (intent.get("metadata") or {}).get(
                "booking_reference"):
            report.differences.append(Difference(
                "succeeded intent with no payment of ours", intent["id"], "no payment",
                f"succeeded {intent.get('amount')} {intent.get('currency', '').upper()} for "
                f"{intent['metadata']['booking_reference']}"))
        return
    if int(intent.get("amount") or 0) != payment.amount or \
            (intent.get("currency") or "").upper() != payment.currency.upper():
        report.differences.append(Difference(
            "amount or currency differs", intent["id"],
            f"{payment.amount} {payment.currency}",
            f"{intent.get('amount')} {(intent.get('currency') or '').upper()}"))
    if intent.get("status") == "succeeded" and payment.has_succeeded and \
            payment.succeeded_at is None:
        # Refunded (a refund recorded before the success event, by older code) but never
        # counted as paid: the status agrees, the ledger does not.
        difference = Difference("payment never counted as paid", intent["id"], payment.status,
                                "succeeded")
        if fix:
            payment_count_succeeded(payment_id=payment.pk, evidence="reconciliation")
            payment_refund_unneeded(payment_id=payment.pk)
            payment.refresh_from_db()
            difference.fixed = payment.succeeded_at is not None
        report.differences.append(difference)
        return
    expected = _expected_status(intent)
    if expected and payment.status not in expected:
        difference = Difference("payment status differs", intent["id"], payment.status,
                                intent.get("status", ""))
        if fix:
            payment_sync_from_stripe(intent=intent)
            payment_refund_unneeded(payment_id=payment.pk)
            payment.refresh_from_db()
            difference.fixed = payment.status in expected
        report.differences.append(difference)


def _check_refund(stripe_refund: dict, *, fix: bool, report: Report) -> None:
    ours = Refund.objects.filter(stripe_refund_id=stripe_refund["id"]).first()
    if ours is None:
        ref_id = str((stripe_refund.get("metadata") or {}).get("refund_id", ""))
        ours = Refund.objects.filter(pk=int(ref_id)).first() if ref_id.isdigit() else None
    if ours is None:
        intent_id = stripe_refund.get("payment_intent")
        if not Payment.objects.filter(stripe_payment_intent_id=intent_id).exists():
            return  # not a payment of ours
        difference = Difference("refund unknown to us", stripe_refund["id"], "no refund",
                                f"{stripe_refund.get('status')} {stripe_refund.get('amount')}")
        if fix:
            difference.fixed = refund_apply_stripe(stripe_refund=stripe_refund) is not None
        report.differences.append(difference)
        return
    if int(stripe_refund.get("amount") or 0) != ours.amount:
        report.differences.append(Difference("refund amount differs", stripe_refund["id"],
                                             str(ours.amount), str(stripe_refund.get("amount"))))
    stripe_status = stripe_refund.get("status")
    agrees = {"succeeded": Refund.Status.SUCCEEDED, "failed": Refund.Status.FAILED,
              "canceled": Refund.Status.FAILED}.get(stripe_status, ours.status)
    if ours.status != agrees:
        difference = Difference("refund status differs", stripe_refund["id"], ours.status,
                                stripe_status or "")
        if fix:
            refund_apply_stripe(stripe_refund=stripe_refund)
            ours.refresh_from_db()
            difference.fixed = ours.status == agrees
        report.differences.append(difference)


def check_dispute(stripe_dispute: dict, *, fix: bool, report: Report) -> None:
    """Compare one Stripe dispute with ours; with `fix`, apply it as its events would."""
    report.disputes_checked = (report.disputes_checked or 0) + 1
    ours = Dispute.objects.filter(stripe_dispute_id=stripe_dispute["id"]).first()
    if ours is None:
        if dispute_payment(stripe_dispute) is None:
            return  # not a payment of ours
        difference = Difference("dispute unknown to us", stripe_dispute["id"], "no dispute",
                                f"{stripe_dispute.get('status')} {stripe_dispute.get('amount')}")
    elif ours.status != stripe_dispute.get("status") and ours.is_open:
        difference = Difference("dispute status differs", stripe_dispute["id"], ours.status,
                                str(stripe_dispute.get("status") or ""))
    else:
        return
    if fix:
        applied = dispute_apply_stripe(
            dispute=stripe_dispute, event_type="charge.dispute.updated",
            source_id=f"reconcile:{stripe_dispute['id']}:{stripe_dispute.get('status')}")
        difference.fixed = applied is not None and applied.status == stripe_dispute.get(
            "status")
        if applied is not None:
            payment_refund_unneeded(payment_id=applied.payment_id)
    report.differences.append(difference)


def _created_since(since: datetime) -> dict:
    return {"gte": int(since.timestamp())}


def _check_disputes(client, *, since: datetime, fix: bool, page_size: int,
                    report: Report) -> None:
    try:
        disputes = client.v1.disputes.list(params={"limit": page_size,
                                                   "created": _created_since(since)})
        pages = disputes.auto_paging_iter()
        for stripe_dispute in pages:
            stripe_dispute = stripe_dispute.to_dict()
            if _created(stripe_dispute) < since:
                continue
            check_dispute(stripe_dispute, fix=fix, report=report)
    except stripe.StripeError as error:
        if getattr(error, "http_status", None) != 404:
            raise gateway.PaymentProviderError(str(error)) from error
        report.disputes_checked = None  # localstripe has no disputes endpoint


def reconcile(*, since: datetime, fix: bool = False, page_size: int = 100,
              progress: Callable[[str, int], None] | None = None) -> Report:
    """Page through Stripe (the SDK's auto-pagination) from `since` and compare.

    Raises gateway.PaymentProviderError when Stripe cannot be reached."""
    report = Report()
    client = gateway.client()
    # Stripe filters the lists on `created`, so the run reads only the window asked for
    # (the check below stays as a guard).
    intents = client.v1.payment_intents.list(params={"limit": page_size,
                                                     "created": _created_since(since)})
    for intent in intents.auto_paging_iter():
        intent = intent.to_dict()
        if _created(intent) < since:
            continue
        report.intents_checked += 1
        _check_intent(intent, fix=fix, report=report)
        if progress:
            progress("intents", report.intents_checked)
    refunds = client.v1.refunds.list(params={"limit": page_size,
                                             "created": _created_since(since)})
    for stripe_refund in refunds.auto_paging_iter():
        stripe_refund = stripe_refund.to_dict()
        if _created(stripe_refund) < since:
            continue
        report.refunds_checked += 1
        _check_refund(stripe_refund, fix=fix, report=report)
        if progress:
            progress("refunds", report.refunds_checked)
    _check_disputes(client, since=since, fix=fix, page_size=page_size, report=report)
    return report


# The nightly run reads again the last minutes before its mark: an event may become
# listable a little after the moment it carries. Re-checking an object changes nothing.
EVENT_OVERLAP = timedelta(minutes=10)
# With no finished run yet, the first one looks this far back.
FIRST_RUN_WINDOW = timedelta(days=2)


def _check_changed_object(kind: str, object_id: str, obj: dict, *, fix: bool,
                          report: Report) -> bool:
    """Fetch the object as it is now and compare it. False: a kind we do not keep."""
    if kind == "payment_intent":
        report.intents_checked += 1
        _check_intent(gateway.retrieve_payment_intent(object_id), fix=fix, report=report)
    elif kind == "refund":
        report.refunds_checked += 1
        _check_refund(gateway.retrieve_refund(object_id), fix=fix, report=report)
    elif kind == "charge" and obj.get("payment_intent"):
        for stripe_refund in gateway.list_refunds(payment_intent_id=obj["payment_intent"]):
            report.refunds_checked += 1
            _check_refund(stripe_refund, fix=fix, report=report)
    elif kind == "dispute":
        check_dispute(gateway.retrieve_dispute(object_id), fix=fix, report=report)
    else:
        return False
    return True


def reconcile_changes(*, fix: bool, now: datetime | None = None,
                      page_size: int = 100) -> tuple[Report, ReconciliationRun]:
    """Compare with Stripe everything that changed there since the last finished run,
    whatever its age: Stripe's events since that run's high-water mark name the objects
    that changed; each is fetched once, as it is now, and checked. The cost follows the
    number of changes, not the number of payments ever made.

    Raises gateway.PaymentProviderError when Stripe cannot be reached (the run is kept,
    unfinished, and the next one starts from the same mark)."""
    now = now or timezone.now()
    last = ReconciliationRun.objects.filter(succeeded=True, high_water__isnull=False).order_by(
        "-finished_at").first()
    since = last.high_water - EVENT_OVERLAP if last else now - FIRST_RUN_WINDOW
    run = ReconciliationRun.objects.create(started_at=now, since=since)
    report = Report()
    high_water = last.high_water if last else since
    seen: set[tuple[str, str]] = set()
    try:
        for event in gateway.list_events(created_gte=int(since.timestamp()),
                                         page_size=page_size):
            created = _created(event)
            if created < since:
                continue  # a Stripe that ignores the filter
            run.events_seen += 1
            high_water = max(high_water, created)
            obj = (event.get("data") or {}).get("object") or {}
            key = (str(obj.get("object")), str(obj.get("id")))
            if key in seen or not obj.get("id"):
                continue
            seen.add(key)
            if _check_changed_object(*key, obj, fix=fix, report=report):
                run.objects_checked += 1
    except stripe.StripeError as error:
        raise gateway.PaymentProviderError(str(error)) from error
    finally:
        run.save(update_fields=["events_seen", "objects_checked"])
    run.high_water = high_water
    run.differences = len(report.differences)
    run.finished_at = timezone.now()
    run.succeeded = True
    run.save()
    return report, run
