"""Chargebacks and early fraud warnings (issue #16 item 3, issue #23 item 5): Stripe-shaped
events (the documented Dispute and Radar EarlyFraudWarning objects), signed with the SDK's
helper, delivered in every order."""

import itertools
import time
import uuid

import pytest
from django.core import mail

from apps.core.models import Communication
from apps.operations.dashboard import dashboard_figures
from apps.operations.totals import user_totals_drift
from apps.payments.models import Dispute, DisputeEvent, Payment, StripeEvent
from apps.refunds.models import Refund
from apps.refunds.services import refundable_amount
from apps.stripe_sync.reconcile import Report, check_dispute
from apps.users.models import User
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import deliver, intent_event

pytestmark = pytest.mark.django_db

DUE_BY = 1893456000  # 2030-01-01 00:00 UTC


def paid_by_card(client, *, intent_id="pi_disputed", price=5000, seats=2):
    booking = make_booking(SessionFactory(price=price), email="holder@example.com", seats=seats)
    payment = Payment.objects.create(booking=booking, user_id=booking.purchaser_id,
                                     amount=booking.total_amount,
                                     stripe_payment_intent_id=intent_id)
    deliver(client, intent_event(intent_id, amount=payment.amount))
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert booking.status == "paid"
    return booking, payment


def dispute(intent_id, *, status="needs_response", amount=10000, reason="fraudulent",
            balance_transactions=(), dispute_id="du_1MtJUT2eZvKYlo2C"):
    """Stripe's Dispute object (docs.stripe.com/api/disputes/object)."""
    return {
        "id": dispute_id, "object": "dispute", "amount": amount,
        "balance_transactions": list(balance_transactions), "charge": "ch_3MtJUT2eZvKYlo2C",
        "created": 1680651737, "currency": "gbp",
        "evidence": {"customer_email_address": None, "uncategorized_text": None},
        "evidence_details": {"due_by": DUE_BY, "has_evidence": False, "past_due": False,
                             "submission_count": 0},
        "is_charge_refundable": False, "livemode": False, "metadata": {},
        "payment_intent": intent_id, "reason": reason, "status": status,
    }


def event(type, obj, *, created):
    return {"id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": type,
            "api_version": "2024-06-20", "created": created, "data": {"object": obj}}


WITHDRAWAL = {"id": "txn_w", "object": "balance_transaction", "amount": -10000,
              "reporting_category": "dispute"}
REINSTATEMENT = {"id": "txn_r", "object": "balance_transaction", "amount": 10000,
                 "reporting_category": "dispute_reversal"}


def lost_sequence(intent_id, t0):
    return [
        event("charge.dispute.created", dispute(intent_id), created=t0),
        event("charge.dispute.funds_withdrawn",
              dispute(intent_id, balance_transactions=[WITHDRAWAL]), created=t0 + 1),
        event("charge.dispute.updated",
              dispute(intent_id, status="under_review", balance_transactions=[WITHDRAWAL]),
              created=t0 + 2),
        event("charge.dispute.closed",
              dispute(intent_id, status="lost", balance_transactions=[WITHDRAWAL]),
              created=t0 + 3),
    ]


def won_sequence(intent_id, t0):
    both = [WITHDRAWAL, REINSTATEMENT]
    return [
        event("charge.dispute.created", dispute(intent_id), created=t0),
        event("charge.dispute.funds_withdrawn",
              dispute(intent_id, balance_transactions=[WITHDRAWAL]), created=t0 + 1),
        event("charge.dispute.funds_reinstated",
              dispute(intent_id, status="won", balance_transactions=both), created=t0 + 2),
        event("charge.dispute.closed", dispute(intent_id, status="won", balance_transactions=both),
              created=t0 + 3),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_a_lost_dispute_takes_the_money_off_in_any_order(client, order):
    booking, payment = paid_by_card(client)
    events = lost_sequence(payment.stripe_payment_intent_id, int(time.time()) - 100)
    for index in order:
        assert deliver(client, events[index]).status_code == 200
    assert deliver(client, events[order[0]]).json()["duplicate"] is True
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}
    found = Dispute.objects.get()
    assert (found.status, found.money_lost, found.amount) == ("lost", 10000, 10000)
    assert found.reason == "fraudulent"
    assert found.evidence_due_by.timestamp() == DUE_BY
    assert DisputeEvent.objects.count() == 4
    assert sum(DisputeEvent.objects.values_list("money_effect", flat=True)) == 10000
    user = User.objects.get(pk=booking.purchaser_id)
    assert user.total_spent == 0
    assert user_totals_drift() == []
    assert refundable_amount(payment) == 0  # the bank gave it back: nothing left to refund
    alerts = Communication.objects.filter(kind="staff_alert", booking=booking)
    assert sorted(a.dedupe_key.rsplit(":", 1)[1] for a in alerts) == ["closed", "opened"]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_a_won_dispute_costs_nothing_in_any_order(client, order):
    booking, payment = paid_by_card(client)
    events = won_sequence(payment.stripe_payment_intent_id, int(time.time()) - 100)
    for index in order:
        deliver(client, events[index])
    found = Dispute.objects.get()
    assert (found.status, found.money_lost) == ("won", 0)
    assert User.objects.get(pk=booking.purchaser_id).total_spent == 10000
    assert user_totals_drift() == []


def test_funds_withdrawn_count_as_lost_until_reinstated(client):
    booking, payment = paid_by_card(client)
    created, withdrawn, reinstated, _ = won_sequence(payment.stripe_payment_intent_id,
                                                     int(time.time()) - 100)
    deliver(client, created)
    assert User.objects.get(pk=booking.purchaser_id).total_spent == 10000
    deliver(client, withdrawn)
    assert User.objects.get(pk=booking.purchaser_id).total_spent == 0
    assert dashboard_figures()["revenue_net_total"] == 0
    deliver(client, reinstated)
    assert User.objects.get(pk=booking.purchaser_id).total_spent == 10000
    assert dashboard_figures()["revenue_net_total"] == 10000
    assert user_totals_drift() == []


def test_staff_are_emailed_the_amount_reason_and_evidence_due_date(
        client, django_capture_on_commit_callbacks):
    booking, payment = paid_by_card(client)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, event("charge.dispute.created",
                              dispute(payment.stripe_payment_intent_id,
                                      reason="product_not_received"),
                              created=int(time.time())))
    [message] = [m for m in mail.outbox if "Dispute" in m.subject]
    assert booking.reference in message.subject and "£100.00" in message.subject
    assert "product_not_received" in message.body
    assert "1 January 2030" in message.body  # evidence due (shown in London time)


def test_the_booking_is_visibly_disputed_in_admin_and_in_the_portal(client, admin_client):
    booking, payment = paid_by_card(client)
    deliver(client, event("charge.dispute.created", dispute(payment.stripe_payment_intent_id),
                          created=int(time.time())))
    listing = admin_client.get("/admin/bookings/booking/?disputed=yes").content.decode()
    assert booking.reference in listing and "DISPUTED" in listing
    disputes = admin_client.get("/admin/payments/dispute/").content.decode()
    assert booking.reference in disputes and "£100.00" in disputes
    found = Dispute.objects.get()
    assert admin_client.get(f"/admin/payments/dispute/{found.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/payments/dispute/add/").status_code == 403
    client.force_login(booking.purchaser)
    page = client.get(f"/portal/bookings/{booking.reference}/").content.decode()
    assert "Disputed with your card issuer" in page and "Dispute open" in page


def test_a_dispute_on_a_payment_not_ours_is_parked(client):
    deliver(client, event("charge.dispute.created", dispute("pi_someone_else"),
                          created=int(time.time())))
    stored = StripeEvent.objects.get()
    assert stored.status == "parked" and "no payment of ours" in stored.last_error
    assert not Dispute.objects.exists()


def test_reconciliation_finds_and_applies_a_lost_dispute_it_never_heard_of(client):
    booking, payment = paid_by_card(client)
    report = Report()
    lost = dispute(payment.stripe_payment_intent_id, status="lost")
    check_dispute(lost, fix=False, report=report)
    assert [d.kind for d in report.differences] == ["dispute unknown to us"]
    assert not Dispute.objects.exists()
    report = Report()
    check_dispute(lost, fix=True, report=report)
    assert report.differences[0].fixed
    assert Dispute.objects.get().money_lost == 10000
    assert User.objects.get(pk=booking.purchaser_id).total_spent == 0
    report = Report()
    check_dispute(lost, fix=True, report=report)
    assert report.differences == []  # agrees now


def test_dashboard_revenue_is_net_of_a_lost_dispute(client):
    _, payment = paid_by_card(client)
    before = dashboard_figures()["revenue_net_total"]
    for item in lost_sequence(payment.stripe_payment_intent_id, int(time.time()) - 50):
        deliver(client, item)
    assert dashboard_figures()["revenue_net_total"] == before - 10000


# --- Radar early fraud warnings ---------------------------------------------------------

def warning(intent_id, *, actionable=True):
    """Stripe's radar.early_fraud_warning object."""
    warning_id = "issfr_1NnrwHBw2dPENLoi9lnhV3RQ"  # pragma: allowlist secret
    return {"id": warning_id, "object": "radar.early_fraud_warning",
            "actionable": actionable, "charge": "ch_3MtJUT2eZvKYlo2C",
            "created": int(time.time()), "fraud_type": "made_with_stolen_card",
            "livemode": False, "payment_intent": intent_id}


def test_an_early_fraud_warning_alerts_staff_and_refunds_nothing_by_default(client):
    booking, payment = paid_by_card(client)
    deliver(client, event("radar.early_fraud_warning.created",
                          warning(payment.stripe_payment_intent_id), created=int(time.time())))
    alert = Communication.objects.get(kind="staff_alert", booking=booking)
    assert "made_with_stolen_card" in alert.body and "Nothing was refunded" in alert.body
    assert not Refund.objects.exists()
    assert payment.events.filter(kind="fraud_warning").count() == 1


def test_an_early_fraud_warning_refunds_automatically_when_set(client, settings):
    settings.STRIPE_REFUND_ON_EARLY_FRAUD_WARNING = True
    booking, payment = paid_by_card(client)
    delivery = event("radar.early_fraud_warning.created",
                     warning(payment.stripe_payment_intent_id), created=int(time.time()))
    deliver(client, delivery)
    refund = Refund.objects.get()
    assert (refund.amount, refund.initiator) == (10000, "automatic")
    alert = Communication.objects.get(kind="staff_alert", booking=booking)
    assert "refunded automatically" in alert.subject
    # A second warning for the same charge refunds nothing more.
    again = dict(delivery, id="evt_second_warning")
    deliver(client, again)
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("success_last", [True, False])
def test_a_dispute_arriving_before_the_success_event_counts_the_payment_first(
        client, success_last):
    """Found by the money-path state machine: Stripe's dispute events for a charge whose
    payment_intent.succeeded had not arrived yet took the money off a payment never
    counted as paid (the customer's total went below zero and the event was parked)."""
    booking = make_booking(SessionFactory(price=5000), email="early@example.com", seats=2)
    payment = Payment.objects.create(booking=booking, user_id=booking.purchaser_id,
                                     amount=10000, stripe_payment_intent_id="pi_early_dispute",
                                     status="requires_action")
    events = lost_sequence("pi_early_dispute", int(time.time()) - 100)[:2]
    success = intent_event("pi_early_dispute", amount=10000)
    for item in (events + [success]) if success_last else ([success] + events):
        deliver(client, item)
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.has_succeeded and booking.status == "paid"
    assert Dispute.objects.get().money_lost == 10000
    assert User.objects.get(pk=booking.purchaser_id).total_spent == 0
    assert user_totals_drift() == []


def test_an_early_fraud_warning_before_the_success_event_still_refunds(client, settings):
    """The same order question for Radar: the warning proves the charge succeeded."""
    settings.STRIPE_REFUND_ON_EARLY_FRAUD_WARNING = True
    booking = make_booking(SessionFactory(price=5000), email="early@example.com", seats=2)
    Payment.objects.create(booking=booking, user_id=booking.purchaser_id, amount=10000,
                           stripe_payment_intent_id="pi_early_warning", status="processing")
    deliver(client, event("radar.early_fraud_warning.created", warning("pi_early_warning"),
                          created=int(time.time())))
    deliver(client, intent_event("pi_early_warning", amount=10000))
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Refund.objects.get().amount == 10000
    assert user_totals_drift() == []
