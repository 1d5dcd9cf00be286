"""Reconciliation against a real localstripe process."""

import json
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments import gateway
from apps.payments.models import Payment
from apps.payments.services import payment_pay_card
from apps.refunds.models import Refund
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import card_token
from tests.refunds.conftest import pay_by_card

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_fake_stripe(fake_stripe_server):
    """Other tests' intents live on in the shared fake: start each test from an empty one."""
    requests.delete(f"{fake_stripe_server}/_config/data", timeout=5).raise_for_status()


def run(*args, json_only=False):
    """(exit code, what the operator reads) for one run of the command."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("reconcile_payments", *args, stdout=out, stderr=StringIO())
    except CommandError as error:
        return error.returncode, out.getvalue() if json_only else out.getvalue() + str(error)
    return 0, out.getvalue()


@pytest.fixture
def lost_webhook(fake_stripe):
    """A 3-D Secure payment the customer completed at Stripe whose webhook never came."""
    booking = make_booking(SessionFactory(price=9500), email="lost@example.com", seats=1)
    result = payment_pay_card(booking=booking,
                              confirmation_token=card_token("4000002500003155"))
    assert result.payment.status == "requires_action"
    intent_id = result.payment.stripe_payment_intent_id
    response = requests.post(
        f"{fake_stripe}/v1/payment_intents/{intent_id}/_authenticate?success=true",
        json={"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": result.client_secret},
        timeout=5)
    response.raise_for_status()
    assert gateway.retrieve_payment_intent(intent_id)["status"] == "succeeded"
    return booking, result.payment


def test_dry_run_reports_the_missed_payment_and_changes_nothing(lost_webhook):
    booking, payment = lost_webhook
    code, out = run("--dry-run")
    assert code == 1
    assert "payment status differs" in out and payment.stripe_payment_intent_id in out
    assert "requires_action" in out and "succeeded" in out
    payment.refresh_from_db()
    assert payment.status == "requires_action"
    assert Booking.objects.get(pk=booking.pk).status == "pending"


def test_fix_applies_it_exactly_as_the_webhook_would_and_twice_changes_nothing(
        lost_webhook, django_capture_on_commit_callbacks):
    booking, payment = lost_webhook
    with django_capture_on_commit_callbacks(execute=True):
        code, out = run("--fix")
    assert code == 1 and "yes" in out
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == "succeeded" and booking.status == "paid"
    assert payment.card_last4 == "3155"
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 9500 and booking.purchaser.total_bookings == 1
    assert Communication.objects.filter(kind="booking_confirmation").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        again, out = run("--fix")
    assert again == 0 and "No differences." in out
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 9500
    assert Communication.objects.filter(kind="booking_confirmation").count() == 1


def test_a_refund_made_at_stripe_is_found_and_recorded(fake_stripe,
                                                       django_capture_on_commit_callbacks):
    booking = make_booking(SessionFactory(price=5000), email="dash@example.com")
    payment = pay_by_card(booking)
    made = gateway.client().v1.refunds.create(params={
        "payment_intent": payment.stripe_payment_intent_id, "amount": 2000})
    code, out = run()
    assert code == 1 and "refund unknown to us" in out and made.id in out
    assert not Refund.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        run("--fix")
    refund = Refund.objects.get(stripe_refund_id=made.id)
    assert (refund.amount, refund.initiator, refund.status) == (2000, "stripe", "succeeded")
    payment.refresh_from_db()
    assert payment.status == "partially_refunded"
    assert run("--fix")[0] == 0


def test_many_pages_of_intents_are_all_checked(fake_stripe):
    client = gateway.client()
    before = len(list(client.v1.payment_intents.list(params={"limit": 100})
                      .auto_paging_iter()))
    card = client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                 "exp_year": 2030, "cvc": "123"}}).id
    for n in range(120):
        client.v1.payment_intents.create(params={"amount": 100 + n, "currency": "gbp",
                                                 "payment_method": card, "confirm": True})
    code, out = run("--json", "--page-size", "25", json_only=True)
    report = json.loads(out)
    assert before == 0
    assert report["intents_checked"] == 120
    assert code == 0  # none of them is ours, none claims to be


def test_bad_arguments_exit_2_with_a_sentence(db):
    assert run("--since", "notadate") == (2, "--since must be a date like 2026-11-01, "
                                             "not 'notadate'.")
    code, message = run("--fix", "--dry-run")
    assert code == 2 and "contradict" in message


def test_stripe_unreachable_exits_2(db, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    code, message = run()
    assert code == 2 and "Could not reach Stripe" in message


def test_payments_older_than_since_are_not_checked(lost_webhook):
    tomorrow = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    code, out = run("--since", tomorrow)
    assert code == 0 and "Checked 0 payment intents" in out
    assert Payment.objects.get().status == "requires_action"


def test_a_payment_marked_refunded_but_never_counted_as_paid_is_found_and_repaired(
        lost_webhook):
    """Issue #23 item 2, data left by the old code: a dashboard refund recorded before the
    success event marked the payment partially refunded without ever counting it as paid;
    reconciliation took that for agreement with Stripe's "succeeded"."""
    booking, payment = lost_webhook
    Payment.objects.filter(pk=payment.pk).update(status="partially_refunded")
    Refund.objects.create(payment=payment, amount=1500, initiator="stripe", status="succeeded",
                          stripe_refund_id="re_old_dashboard")
    code, out = run("--dry-run")
    assert code == 1 and "never counted as paid" in out
    spent_before = type(booking.purchaser).objects.get(pk=booking.purchaser_id).total_spent
    code, out = run("--fix")
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.succeeded_at is not None and payment.status == "partially_refunded"
    assert booking.status == "paid"
    spent = type(booking.purchaser).objects.get(pk=booking.purchaser_id).total_spent
    assert spent == spent_before + 9500  # counted once as paid; the refund was counted then
    assert run("--dry-run")[0] == 0
    run("--fix")
    assert type(booking.purchaser).objects.get(pk=booking.purchaser_id).total_spent == spent
