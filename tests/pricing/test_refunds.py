"""Refunds of discounted bookings are computed on what was paid, never the list price;
a cancelled place gets back its exact share, and the shares add up to the total."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Attendee
from apps.payments.services import payment_record_manual
from apps.pricing.models import GroupDiscount
from apps.refunds.cancellation import booking_cancel_by_customer
from apps.refunds.changes import attendee_cancel, attendee_cancel_quote, booking_transfer
from apps.refunds.receipts import receipt_context
from tests.factories import SessionFactory

from .helpers import book_with_code, make_code

pytestmark = pytest.mark.django_db


def paid_discounted_booking(*, seats=3, days=30, price=3333, code="THIRD"):
    session = SessionFactory(price=price, capacity=10,
                             starts_at=timezone.now() + timedelta(days=days))
    make_code(code, kind="fixed", amount=1000, percent=None)
    booking = book_with_code(session, code=code, seats=seats)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    return booking


def test_a_customer_cancellation_refunds_the_policy_share_of_what_was_paid():
    booking = paid_discounted_booking(days=10)  # the 50% tier
    assert booking.total_amount == 3 * 3333 - 1000 == booking.payments.get().amount
    refunds = booking_cancel_by_customer(booking=booking, actor=booking.purchaser)
    assert sum(r.amount for r in refunds) == 8999 * 50 // 100  # not half the list price


def test_cancelling_places_one_by_one_refunds_shares_that_sum_to_what_was_paid():
    booking = paid_discounted_booking(seats=3)
    paid = booking.total_amount  # 8999: shares 3000, 3000, 2999
    attendees = list(Attendee.objects.filter(booking=booking).order_by("id"))
    quote = attendee_cancel_quote(attendee=attendees[2], initiator="staff")
    assert quote.amount == 2999
    refunded = []
    for attendee in attendees[1:]:
        refunds = attendee_cancel(attendee_id=attendee.pk, actor=None, initiator="staff")
        refunded.append(sum(r.amount for r in refunds))
        booking.refresh_from_db()
    assert refunded == [3000, 2999]  # 8999 over three seats, then 5999 over two
    assert booking.seats == 1 and booking.total_amount == 3000
    assert booking.list_amount == 3333
    assert sum(refunded) + booking.total_amount == paid
    # The receipt's lines still add up: the list price less what the booking keeps off.
    receipt = receipt_context(booking=booking)
    assert receipt["discounts"] == [("Discounts as agreed when booked", 333)]
    assert receipt["booking_total"] == 3000


def test_a_group_price_booking_part_cancelled_by_the_customer_gets_the_policy_share():
    session = SessionFactory(price=10000, capacity=10,
                             starts_at=timezone.now() + timedelta(days=30))
    GroupDiscount.objects.create(min_seats=4, percent=25)
    booking = book_with_code(session, seats=4)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    assert booking.total_amount == 30000
    last = Attendee.objects.filter(booking=booking).order_by("id").last()
    refunds = attendee_cancel(attendee_id=last.pk, actor=booking.purchaser,
                              initiator="customer")
    assert sum(r.amount for r in refunds) == 7500  # the seat's share, in full (30 days)


def test_a_move_to_another_date_keeps_the_discount_in_money():
    booking = paid_discounted_booking(seats=2, price=5000)
    assert booking.total_amount == 9000
    target = SessionFactory(course=booking.session.course, price=6000, capacity=10,
                            starts_at=timezone.now() + timedelta(days=40))
    quote = booking_transfer(booking_id=booking.pk, to_session_id=target.pk, actor=None,
                             initiator="staff")
    booking.refresh_from_db()
    assert (booking.list_amount, booking.total_amount) == (12000, 11000)
    assert quote.owed == 2000
