from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments import gateway
from apps.payments.holds import hold_expire, holds_release_expired
from apps.payments.models import Payment
from apps.payments.services import payment_apply_intent
from apps.refunds.models import Refund
from apps.refunds.services import payment_refund_unneeded, refunds_sweep_stuck
from apps.sessions.models import CourseSession
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import card_token

pytestmark = pytest.mark.django_db


def test_hold_lasts_the_configured_time(settings):
    settings.BOOKING_HOLD_MINUTES = 20
    now = timezone.now()
    booking = make_booking(SessionFactory(), now=now)
    assert booking.hold_expires_at == now + timedelta(minutes=20)


def test_expired_holds_release_their_seats():
    session = SessionFactory(capacity=4)
    now = timezone.now()
    stale = make_booking(session, email="slow@example.com", seats=3,
                         now=now - timedelta(minutes=16))
    fresh = make_booking(session, email="fast@example.com", seats=1, now=now)
    assert holds_release_expired(now=now) == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == "expired" and fresh.status == "pending"
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 1
    # Running again changes nothing.
    assert holds_release_expired(now=now) == []
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 1


def test_a_paid_booking_is_never_expired():
    now = timezone.now()
    booking = make_booking(SessionFactory(), now=now - timedelta(hours=1))
    Booking.objects.filter(pk=booking.pk).update(status="paid")
    assert hold_expire(booking_id=booking.pk, now=now) is False
    assert Booking.objects.get(pk=booking.pk).status == "paid"


def test_release_expired_holds_command_reports_what_it_did(capsys):
    session = SessionFactory(capacity=5)
    make_booking(session, seats=2, now=timezone.now() - timedelta(minutes=30))
    call_command("release_expired_holds")
    assert "Expired 1 of 1 lapsed hold(s); released 2 seat(s)." in capsys.readouterr().out
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 0


def test_beat_runs_the_release_every_minute(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["release-expired-holds"]
    assert schedule["task"] == "apps.payments.holds.release_expired_holds_task"
    assert schedule["schedule"] == 60.0


def _real_succeeded_intent(booking, payment):
    """A PaymentIntent that really succeeded on the (fake) Stripe."""
    card = gateway.client().v1.payment_methods.create(params={
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                 "exp_year": 2030, "cvc": "123"}})
    intent = gateway.client().v1.payment_intents.create(params={
        "amount": payment.amount, "currency": "gbp", "payment_method": card.id,
        "confirm": True, "metadata": {"payment_id": str(payment.pk)}}).to_dict()
    assert intent["status"] == "succeeded"
    return intent


def test_late_success_retakes_the_seats_when_they_are_still_free(fake_stripe):
    session = SessionFactory(capacity=3)
    now = timezone.now()
    booking = make_booking(session, seats=2, now=now - timedelta(minutes=20))
    payment = Payment.objects.create(booking=booking, user=booking.purchaser,
                                     amount=booking.total_amount)
    holds_release_expired(now=now)
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 0

    payment_apply_intent(intent=_real_succeeded_intent(booking, payment), now=now)

    booking.refresh_from_db()
    assert booking.status == "paid"
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 2
    assert not Refund.objects.exists()
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == booking.total_amount


def test_late_success_when_the_seats_are_gone_is_refunded_automatically(
        fake_stripe, django_capture_on_commit_callbacks):
    session = SessionFactory(capacity=2)
    now = timezone.now()
    booking = make_booking(session, email="late@example.com", seats=2,
                           now=now - timedelta(minutes=20))
    payment = Payment.objects.create(booking=booking, user=booking.purchaser,
                                     amount=booking.total_amount)
    holds_release_expired(now=now)
    make_booking(session, email="quick@example.com", seats=1, now=now)

    with django_capture_on_commit_callbacks(execute=True):
        payment_apply_intent(intent=_real_succeeded_intent(booking, payment), now=now)
        # Payments records the money as unneeded; the refunds layer gives it back (the
        # webhook and reconciliation call it right after applying the intent).
        refund = payment_refund_unneeded(payment_id=payment.pk)
        assert payment_refund_unneeded(payment_id=payment.pk) is None  # once

    booking.refresh_from_db()
    payment.refresh_from_db()
    assert refund is not None
    assert booking.status == "expired"
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 1
    refund = Refund.objects.get(payment=payment)
    assert refund.amount == payment.amount
    assert refund.initiator == "automatic"
    assert refund.status == "succeeded" and refund.stripe_refund_id.startswith("re_")
    assert payment.status == "refunded"
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 0
    assert booking.purchaser.total_bookings == 0
    told = Communication.objects.get(kind="late_payment_refunded")
    assert told.recipient == "late@example.com"
    assert "We are refunding the full amount" in told.body and "on its way" in told.body


def test_an_expired_hold_cancels_its_open_payment_intent(
        fake_stripe, django_capture_on_commit_callbacks):
    from apps.payments.services import payment_pay_card

    now = timezone.now()
    booking = make_booking(SessionFactory(), seats=1, now=now - timedelta(minutes=14))
    result = payment_pay_card(booking=booking, confirmation_token=card_token("4000002500003155"),
                              now=now)
    assert result.payment.status == "requires_action"

    with django_capture_on_commit_callbacks(execute=True):
        holds_release_expired(now=now + timedelta(minutes=2))

    payment = Payment.objects.get(pk=result.payment.pk)
    assert payment.status == "canceled"
    assert gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)["status"] == \
        "canceled"
    assert Booking.objects.get(pk=booking.pk).status == "expired"


def test_unneeded_money_left_unrefunded_is_refunded_by_the_sweep(
        fake_stripe, django_capture_on_commit_callbacks):
    """A process that stopped between applying a late payment and refunding it leaves the
    payment recorded as unneeded; the refunds sweep (beat, every 15 minutes) settles it."""
    session = SessionFactory(capacity=1)
    now = timezone.now()
    booking = make_booking(session, email="late@example.com", now=now - timedelta(minutes=20))
    payment = Payment.objects.create(booking=booking, user=booking.purchaser,
                                     amount=booking.total_amount)
    holds_release_expired(now=now)
    make_booking(session, email="quick@example.com", now=now)
    payment_apply_intent(intent=_real_succeeded_intent(booking, payment), now=now)
    assert not Refund.objects.filter(payment=payment).exists()

    with django_capture_on_commit_callbacks(execute=True):
        summary = refunds_sweep_stuck()
    assert summary["unneeded_settled"] == [payment.pk]
    refund = Refund.objects.get(payment=payment)
    assert refund.initiator == "automatic" and refund.amount == payment.amount
    assert refunds_sweep_stuck()["unneeded_settled"] == []
    assert Refund.objects.filter(payment=payment).count() == 1
