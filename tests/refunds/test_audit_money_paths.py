"""Issue #23, items 1-9: each scenario the money-path audit found, reproduced as it happened."""

import itertools
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.operations.quality import run_checks
from apps.operations.totals import user_totals_drift
from apps.payments import gateway
from apps.payments.models import Payment, StripeEvent
from apps.payments.services import payment_record_manual
from apps.refunds.cancellation import QuoteChanged, booking_cancel_by_customer
from apps.refunds.models import Refund
from apps.refunds.policy import cancellation_quote
from apps.refunds.services import (
    refund_create,
    refund_mark_failed,
    refund_retry,
    refunds_sweep_stuck,
)
from apps.sessions.models import CourseSession
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import card_token, deliver, intent_event
from tests.refunds.conftest import stripe_refunds

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def refund_event(refund, *, type="refund.updated"):
    return {"id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": type,
            "created": int(time.time()), "data": {"object": refund}}


def second_card_charge(booking):
    """A second card attempt that Stripe also took (a 3-D Secure attempt completing after
    another card had already paid): a real intent on the fake, told to us by webhook."""
    payment = Payment.objects.create(booking=booking, user_id=booking.purchaser_id,
                                     amount=booking.total_amount, currency=booking.currency,
                                     attempt=2)
    intent = gateway.create_payment_intent(
        amount=payment.amount, currency=payment.currency,
        customer_id=booking.purchaser.stripe_customer_id,
        confirmation_token=card_token("4242424242424242"),
        metadata={"payment_id": str(payment.pk), "booking_reference": booking.reference},
        idempotency_key=f"test-double-{payment.pk}")
    assert intent["status"] == "succeeded"
    return payment, intent


# --- 1 and 7: a double charge ------------------------------------------------------------

def test_refunding_a_double_charge_keeps_the_booking_paid_and_says_so(
        client, paid_booking, django_capture_on_commit_callbacks):
    booking, first = paid_booking
    session_seats = CourseSession.objects.get(pk=booking.session_id).seats_taken
    second, intent = second_card_charge(booking)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, intent_event(intent["id"], amount=second.amount,
                                     metadata=intent["metadata"]))
    second.refresh_from_db()
    first.refresh_from_db()
    booking.refresh_from_db()
    assert second.status == "refunded" and first.status == "succeeded"
    assert len(stripe_refunds(second)) == 1
    # The booking is still paid for by the first payment: seats and totals unchanged.
    assert booking.status == "paid"
    assert CourseSession.objects.get(pk=booking.session_id).seats_taken == session_seats
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_bookings == 1
    assert booking.purchaser.total_spent == first.amount
    assert user_totals_drift() == []
    # 7: the email tells the truth: the booking stands, the extra payment came back.
    email = Communication.objects.get(booking=booking, kind="late_payment_refunded")
    assert "released" not in email.body and "no longer has room" not in email.body
    assert "still confirmed" in email.body and "£100.00" in email.body


def test_staff_refunding_one_duplicate_payment_by_hand_keeps_the_booking_paid():
    booking = make_booking(SessionFactory(price=4000), email="twice@example.com")
    first = payment_record_manual(booking=booking, actor=None)
    duplicate = Payment.objects.create(booking=booking, user_id=booking.purchaser_id,
                                       amount=4000, method="invoice", attempt=2,
                                       status="succeeded", succeeded_at=timezone.now())
    type(booking.purchaser).objects.filter(pk=booking.purchaser_id).update(total_spent=8000)
    refund_create(payment=duplicate, amount=4000, initiator="staff", reason="Paid twice")
    booking.refresh_from_db()
    assert booking.status == "paid"
    # ...and refunding the other one too leaves nothing paid: now the booking is refunded.
    refund_create(payment=first, amount=4000, initiator="staff", reason="Cancelled")
    booking.refresh_from_db()
    assert booking.status == "refunded"
    assert user_totals_drift() == []


# --- 2: a dashboard refund before payment_intent.succeeded ------------------------------

def _intent_succeeded(intent_id, amount):
    return intent_event(intent_id, amount=amount)


def _refund(intent_id, amount, status):
    return {"id": "re_dashboard", "object": "refund", "amount": amount, "currency": "gbp",
            "status": status, "payment_intent": intent_id, "metadata": {},
            "failure_reason": None}


@pytest.mark.parametrize("order", list(itertools.permutations(
    ["succeeded", "refund_pending", "refund_succeeded"])))
def test_a_dashboard_refund_in_any_order_with_the_success_event_pays_the_booking(client, order):
    booking = make_booking(SessionFactory(price=9000, capacity=4), email="first@example.com",
                           seats=2)
    payment = Payment.objects.create(booking=booking, user_id=booking.purchaser_id,
                                     amount=18000, stripe_payment_intent_id="pi_early",
                                     status="requires_action")
    events = {
        "succeeded": _intent_succeeded("pi_early", 18000),
        "refund_pending": refund_event(_refund("pi_early", 10000, "pending"),
                                       type="refund.created"),
        "refund_succeeded": refund_event(_refund("pi_early", 10000, "succeeded")),
    }
    for name in order:
        assert deliver(client, events[name]).status_code == 200
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == "paid"
    assert payment.status == "partially_refunded"
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 8000
    assert booking.purchaser.total_bookings == 1
    assert user_totals_drift() == []


# --- 3: refunds that never reached Stripe -----------------------------------------------

def test_a_refund_never_queued_is_sent_by_the_sweep(paid_booking,
                                                    django_capture_on_commit_callbacks):
    _, payment = paid_booking
    # The broker was down: the commit hook that queues the submit task never ran.
    refund = refund_create(payment=payment, amount=2500, initiator="staff", reason="x")
    assert refund.status == "pending" and stripe_refunds(payment) == []
    later = timezone.now() + timedelta(minutes=30)
    assert "refunds_stuck_pending" in run_checks(now=later)
    assert [row["refund_id"] for row in run_checks(now=later)["refunds_stuck_pending"]] == [
        refund.pk]
    with django_capture_on_commit_callbacks(execute=True):
        summary = refunds_sweep_stuck(now=later)
    assert summary["resubmitted"] == [refund.pk]
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert len(stripe_refunds(payment)) == 1
    assert run_checks(now=later)["refunds_stuck_pending"] == []


def test_a_refund_claimed_by_a_worker_that_died_is_not_sent_twice(
        paid_booking, django_capture_on_commit_callbacks):
    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=2500, initiator="staff", reason="x")
    # The worker claimed it, Stripe made the refund, and the worker died before recording.
    Refund.objects.filter(pk=refund.pk).update(submitted_at=timezone.now())
    gateway.create_refund(payment_intent_id=payment.stripe_payment_intent_id, amount=2500,
                          idempotency_key=refund.idempotency_key,
                          metadata={"refund_id": str(refund.pk)})
    with django_capture_on_commit_callbacks(execute=True):
        refunds_sweep_stuck(now=timezone.now() + timedelta(hours=2))
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.stripe_refund_id
    assert len(stripe_refunds(payment)) == 1


def test_a_refund_claimed_but_never_sent_is_sent_once(paid_booking,
                                                      django_capture_on_commit_callbacks):
    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=2500, initiator="staff", reason="x")
    Refund.objects.filter(pk=refund.pk).update(submitted_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        refunds_sweep_stuck(now=timezone.now() + timedelta(hours=2))
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert len(stripe_refunds(payment)) == 1


def test_staff_can_retry_a_stuck_pending_refund_but_not_a_fresh_one(
        paid_booking, django_capture_on_commit_callbacks):
    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=2500, initiator="staff", reason="x")
    from apps.core.errors import DomainError

    with pytest.raises(DomainError, match="still being sent"):
        refund_retry(refund=refund)
    Refund.objects.filter(pk=refund.pk).update(
        created_at=timezone.now() - timedelta(hours=2))
    refund.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        again = refund_retry(refund=refund)
    assert again.pk == refund.pk  # the same refund is sent, not a second one
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert Refund.objects.filter(payment=payment).count() == 1
    assert len(stripe_refunds(payment)) == 1


def test_a_refund_pending_for_a_day_alerts_staff_once(paid_booking):
    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=2500, initiator="staff", reason="x")
    Refund.objects.filter(pk=refund.pk).update(
        stripe_refund_id="re_pending_forever", submitted_at=timezone.now())
    later = timezone.now() + timedelta(days=2)
    refunds_sweep_stuck(now=later)
    refunds_sweep_stuck(now=later + timedelta(minutes=15))
    alerts = Communication.objects.filter(kind="staff_alert", dedupe_key__contains="refund")
    assert alerts.count() == 1
    assert booking_reference(payment) in alerts.get().body


def booking_reference(payment):
    return Booking.objects.get(pk=payment.booking_id).reference


def test_the_sweep_is_scheduled():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "apps.refunds.tasks.sweep_stuck_refunds_task" in tasks


# --- 4: the amount confirmed is the amount refunded --------------------------------------

def _paid_for(start, *, price=5000, seats=2):
    booking = make_booking(SessionFactory(price=price, starts_at=start), email="pat@example.com",
                           seats=seats, now=start - timedelta(days=40))
    payment_record_manual(booking=booking, actor=None, now=start - timedelta(days=40))
    booking.refresh_from_db()
    return booking


def test_cancelling_after_the_boundary_passed_asks_again_with_the_new_amount():
    start = timezone.now() + timedelta(days=30)
    booking = _paid_for(start)
    boundary = cancellation_quote(booking=booking, paid=10000,
                                  now=start - timedelta(days=20)).valid_until
    shown = cancellation_quote(booking=booking, paid=10000, now=boundary - timedelta(minutes=1))
    assert shown.amount == 10000
    with pytest.raises(QuoteChanged) as changed:
        booking_cancel_by_customer(booking=booking, actor=booking.purchaser,
                                   confirmed_amount=shown.amount,
                                   now=boundary + timedelta(minutes=1))
    assert changed.value.quote.amount == 5000
    booking.refresh_from_db()
    assert booking.status == "paid" and not Refund.objects.exists()
    refunds = booking_cancel_by_customer(booking=booking, actor=booking.purchaser,
                                         confirmed_amount=5000,
                                         now=boundary + timedelta(minutes=2))
    assert [r.amount for r in refunds] == [5000]


def test_the_cancel_page_refuses_an_outdated_amount_and_shows_the_new_one(client):
    booking = _paid_for(timezone.now() + timedelta(days=10))  # 50 %: £50.00
    client.force_login(booking.purchaser)
    url = f"/portal/bookings/{booking.reference}/cancel/"
    page = client.get(url).content.decode()
    assert 'name="confirmed_amount" value="5000"' in page
    response = client.post(url, {"confirmed_amount": "10000"})  # shown before the boundary
    assert response.status_code == 200
    text = response.content.decode()
    assert "has changed" in text and "Yes, cancel and refund £50.00" in text
    booking.refresh_from_db()
    assert booking.status == "paid"
    for bad in ("", "abc", "-1", "1e9"):
        response = client.post(url, {"confirmed_amount": bad})
        assert response.status_code == 200
        booking.refresh_from_db()
        assert booking.status == "paid"
    response = client.post(url, {"confirmed_amount": "5000"}, follow=True)
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert booking.payments.get().refunds.get().amount == 5000
    assert "£50.00 will be refunded" in response.content.decode()


# --- 6: money held on a booking with no seat ---------------------------------------------

def test_data_quality_flags_money_held_on_a_refunded_booking_whose_refund_failed():
    booking = _paid_for(timezone.now() + timedelta(days=30), price=3000, seats=1)
    payment = booking.payments.get()
    refund = refund_create(payment=payment, amount=3000, initiator="staff", reason="Asked")
    booking.refresh_from_db()
    assert booking.status == "refunded"
    assert run_checks()["payments_on_unpaid_bookings"] == []
    refund_mark_failed(refund_id=refund.pk, reason="Card closed")
    rows = run_checks()["payments_on_unpaid_bookings"]
    assert [(r["reference"], r["not_refunded"]) for r in rows] == [(booking.reference, 3000)]


# --- 8: nothing to refund is said plainly ------------------------------------------------

@pytest.mark.parametrize("case", ["free", "no_refund_window"])
def test_cancelling_with_nothing_to_refund_says_so(client, case):
    if case == "free":
        booking = make_booking(SessionFactory(price=0), email="free@example.com")
    else:
        booking = _paid_for(timezone.now() + timedelta(days=3))
    booking.refresh_from_db()
    assert booking.status == "paid"
    client.force_login(booking.purchaser)
    url = f"/portal/bookings/{booking.reference}/cancel/"
    page = client.get(url).content.decode()
    assert "refund £0.00" not in page and "back <strong data-refund>£0.00" not in page
    response = client.post(url, {"confirmed_amount": "0"}, follow=True)
    text = response.content.decode()
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert "will be refunded" not in text
    assert "No refund is due" in text


# --- 9: policy tiers are calendar days in the provider's time zone -----------------------

@pytest.mark.parametrize(("local_now", "percent"), [
    (datetime(2027, 3, 14, 8, 30), 100),   # the audit's case: 13 days 23.5 real hours
    (datetime(2027, 3, 14, 9, 0), 100),    # exactly "until 09:00 on 14 March"
    (datetime(2027, 3, 14, 9, 1), 50),
    (datetime(2027, 3, 21, 9, 0), 50),
    (datetime(2027, 3, 21, 9, 1), 0),
])
def test_policy_tiers_are_calendar_days_across_a_clock_change(local_now, percent):
    start = datetime(2027, 3, 28, 9, 0, tzinfo=LONDON)  # clocks go forward that morning
    booking = make_booking(SessionFactory(starts_at=start), now=start - timedelta(days=60))
    quote = cancellation_quote(booking=booking, paid=10000,
                               now=local_now.replace(tzinfo=LONDON))
    assert quote.percent == percent


def test_the_customer_is_shown_the_local_date_and_time_of_the_boundary():
    start = datetime(2027, 3, 28, 9, 0, tzinfo=LONDON)
    booking = make_booking(SessionFactory(starts_at=start), now=start - timedelta(days=60))
    quote = cancellation_quote(booking=booking, paid=10000,
                               now=datetime(2027, 3, 1, 12, 0, tzinfo=LONDON))
    assert quote.valid_until == datetime(2027, 3, 14, 9, 0, tzinfo=LONDON)
    assert "09:00 on Sunday 14 March 2027" in quote.explanation


def test_the_cancel_page_says_the_percentage_applies_to_what_is_not_yet_refunded(client):
    booking = _paid_for(timezone.now() + timedelta(days=10))
    refund_create(payment=booking.payments.get(), amount=2000, initiator="staff",
                  reason="Goodwill")
    client.force_login(booking.purchaser)
    page = client.get(f"/portal/bookings/{booking.reference}/cancel/").content.decode()
    assert "of what you paid and have not yet had back" in page
    assert "£40.00" in page  # 50 % of £80.00 still held
