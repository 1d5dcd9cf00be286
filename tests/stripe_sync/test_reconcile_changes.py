"""The nightly reconciliation follows changes, not history (issue #24 item 8): it reads
Stripe's events since the last finished run's high-water mark, whatever the age of the
payment they are about, and checks each changed object once."""

import time
from datetime import timedelta

import pytest
import requests
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from apps.payments.models import Payment, ReconciliationRun
from apps.stripe_sync import reconcile
from apps.stripe_sync.reconcile import reconcile_changes
from tests.factories import SessionFactory, make_booking
from tests.refunds.conftest import paid_booking, pay_by_card  # noqa: F401 (fixture)
from tests.stripe_sync.test_reconcile import lost_webhook  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_fake_stripe(fake_stripe_server):
    requests.delete(f"{fake_stripe_server}/_config/data", timeout=5).raise_for_status()


@pytest.fixture
def no_overlap(monkeypatch):
    monkeypatch.setattr(reconcile, "EVENT_OVERLAP", timedelta(0))


def test_a_missed_change_is_found_whatever_the_age_of_the_payment(lost_webhook):  # noqa: F811
    booking, payment = lost_webhook
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(days=400))
    # The last finished run was a week ago: everything since then is read.
    ReconciliationRun.objects.create(started_at=timezone.now() - timedelta(days=7),
                                     since=timezone.now() - timedelta(days=8),
                                     high_water=timezone.now() - timedelta(days=7),
                                     finished_at=timezone.now() - timedelta(days=7),
                                     succeeded=True)
    report, run = reconcile_changes(fix=True)
    assert [d.kind for d in report.differences] == ["payment status differs"]
    assert report.differences[0].fixed
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert run.succeeded and run.high_water >= timezone.now() - timedelta(minutes=1)


def test_each_run_starts_from_the_last_finished_runs_mark_and_checks_only_changes(
        fake_stripe, no_overlap):
    for n in range(6):
        pay_by_card(make_booking(SessionFactory(price=4000), email=f"p{n}@example.com"))
    time.sleep(1.1)  # event times are whole seconds: the mark's second holds one payment
    pay_by_card(make_booking(SessionFactory(price=4000), email="marker@example.com"))
    _, first = reconcile_changes(fix=True)
    assert first.objects_checked == 7  # the first run: everything in its window
    time.sleep(1.1)
    pay_by_card(make_booking(SessionFactory(price=4000), email="late@example.com"))
    _, second = reconcile_changes(fix=True)
    assert second.since == first.high_water
    # The new payment, and the one whose events share the mark's second: not the history.
    assert second.objects_checked == 2
    assert Payment.objects.filter(status="succeeded").count() == 8


def test_a_run_that_could_not_reach_stripe_does_not_move_the_mark(fake_stripe, settings,
                                                                  no_overlap):
    _, first = reconcile_changes(fix=False)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    from apps.payments.gateway import PaymentProviderError

    with pytest.raises(PaymentProviderError):
        reconcile_changes(fix=False)
    latest = ReconciliationRun.objects.filter(succeeded=True).order_by("-finished_at").first()
    assert latest.pk == first.pk


def test_it_runs_nightly_at_0315_london_time():
    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-payments-nightly"]
    assert entry["task"] == "apps.stripe_sync.tasks.reconcile_payments_task"
    assert entry["schedule"] == crontab(hour=3, minute=15)
    assert settings.CELERY_TIMEZONE == "Europe/London"


def test_a_refund_that_failed_days_after_it_was_made_is_found(paid_booking, monkeypatch):  # noqa: F811
    """The audit's case: a refund made three days ago fails at Stripe today and its webhook
    is lost. The fake emits no refund events, so Stripe's event list and the refund as
    it now is are given here, shaped as Stripe documents them."""
    from apps.payments import gateway
    from apps.refunds.models import Refund
    from apps.refunds.services import refund_apply_stripe, refund_create

    booking, payment = paid_booking
    refund = refund_create(payment=payment, amount=3000, initiator="staff", reason="x")
    made = {"id": "re_three_days", "object": "refund", "amount": 3000, "currency": "gbp",
            "status": "succeeded", "payment_intent": payment.stripe_payment_intent_id,
            "metadata": {"refund_id": str(refund.pk)}, "failure_reason": None,
            "created": int(time.time()) - 3 * 86400}
    refund_apply_stripe(stripe_refund=made)
    spent = type(booking.purchaser).objects.get(pk=booking.purchaser_id).total_spent
    failed = {**made, "status": "failed", "failure_reason": "expired_or_canceled_card"}
    monkeypatch.setattr(gateway, "list_events", lambda **kwargs: iter([
        {"id": "evt_refund_failed", "object": "event", "type": "refund.failed",
         "created": int(time.time()) - 60, "data": {"object": failed}}]))
    monkeypatch.setattr(gateway, "retrieve_refund", lambda refund_id: dict(failed))
    report, _ = reconcile_changes(fix=True)
    assert [(d.kind, d.fixed) for d in report.differences] == [("refund status differs", True)]
    assert Refund.objects.get(pk=refund.pk).status == "failed"
    assert type(booking.purchaser).objects.get(pk=booking.purchaser_id).total_spent == \
        spent + 3000
