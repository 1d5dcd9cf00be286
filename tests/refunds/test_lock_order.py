"""Cancelling a booking while a refund succeeds for it: both take the booking lock first,
so they queue instead of deadlocking."""

import threading
import time

import pytest
from django.db import connection

from apps.bookings.models import Booking
from apps.payments.services import payment_record_manual
from apps.refunds import cancellation
from apps.refunds import services as refund_services
from apps.refunds.models import Refund
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db(transaction=True)


def test_cancel_racing_a_refund_success_neither_deadlocks_nor_double_counts(monkeypatch):
    booking = make_booking(SessionFactory(price=5000, capacity=5), email="d@example.com")
    payment = payment_record_manual(booking=booking, actor=None)
    pending = Refund.objects.create(payment=payment, amount=1000, currency="GBP",
                                    initiator="staff")

    # Widen the windows in which each side holds its first lock.
    real_apply = cancellation.booking_apply_transition
    real_settle = refund_services._settle_payment_status

    def slow_apply(*args, **kwargs):
        real_apply(*args, **kwargs)
        time.sleep(0.5)

    def slow_settle(payment_row):
        real_settle(payment_row)
        time.sleep(0.5)

    monkeypatch.setattr(cancellation, "booking_apply_transition", slow_apply)
    monkeypatch.setattr(refund_services, "_settle_payment_status", slow_settle)

    errors = []

    def run(work):
        try:
            work()
        except Exception as error:  # noqa: BLE001 - the test reports whatever happened
            errors.append(repr(error))
        finally:
            connection.close()

    cancel = threading.Thread(target=run, args=(lambda: cancellation.booking_cancel(
        booking_id=booking.pk, reason="customer cancelled"),))
    succeed = threading.Thread(target=run, args=(
        lambda: refund_services.refund_mark_succeeded(refund_id=pending.pk),))
    cancel.start()
    time.sleep(0.1)
    succeed.start()
    cancel.join(30)
    succeed.join(30)

    assert errors == []
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"
    refunds = Refund.objects.filter(payment=payment)
    assert sum(r.amount for r in refunds) == payment.amount  # 10.00 then the remaining 40.00
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 0
