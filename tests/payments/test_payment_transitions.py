"""Payment's transition table and status sets: the one place their rules live."""

import itertools

import pytest

from apps.bookings.models import (
    UPCOMING_STATUSES,
    Booking,
    BookingStatus,
    TransitionError,
)
from apps.payments.models import Payment
from apps.refunds.models import Refund

S = Payment.Status
ALL = list(S.values)
FORBIDDEN = [(a, b) for a, b in itertools.product(ALL, ALL)
             if a != b and b not in Payment.TRANSITIONS[a]]
REFUND_FORBIDDEN = [(a, b) for a, b in itertools.product(Refund.Status.values, repeat=2)
                    if b not in Refund.TRANSITIONS[a]]


def test_every_payment_status_has_a_row():
    assert set(Payment.TRANSITIONS) == set(ALL)


def test_the_payment_table_is_exactly_the_documented_moves():
    waiting = {S.REQUIRES_PAYMENT, S.REQUIRES_ACTION, S.PROCESSING}
    assert {(a, b) for a, targets in Payment.TRANSITIONS.items() for b in targets} == (
        {(a, b) for a in waiting for b in waiting | {S.SUCCEEDED, S.FAILED, S.CANCELED}
         if a != b}
        | {(S.FAILED, S.SUCCEEDED), (S.CANCELED, S.SUCCEEDED)}
        | {(a, b) for a in Payment.MONEY_ARRIVED for b in Payment.MONEY_ARRIVED if a != b})


@pytest.mark.parametrize(("current", "new"), FORBIDDEN)
def test_every_illegal_payment_move_is_refused(current, new):
    payment = Payment(status=current)
    assert not payment.can_become(new)
    with pytest.raises(TransitionError):
        payment.move_to(new)
    assert payment.status == current


@pytest.mark.parametrize(("current", "new"),
                         [(a, b) for a, targets in Payment.TRANSITIONS.items() for b in targets])
def test_every_legal_payment_move_is_taken(current, new):
    payment = Payment(status=current)
    payment.move_to(new)
    assert payment.status == new


def test_money_never_goes_back_to_waiting_or_failed():
    for arrived in Payment.MONEY_ARRIVED:
        assert Payment.TRANSITIONS[arrived] <= Payment.MONEY_ARRIVED


def test_money_arrived_is_succeeded_and_its_refund_states():
    assert Payment.MONEY_ARRIVED == {S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED}
    assert all(Payment(status=s).has_succeeded == (s in Payment.MONEY_ARRIVED) for s in ALL)


def test_refund_table_covers_every_status():
    assert set(Refund.TRANSITIONS) == set(Refund.Status.values)
    assert Refund.NOT_FAILED == {Refund.Status.PENDING, Refund.Status.SUCCEEDED}


@pytest.mark.parametrize(("current", "new"), REFUND_FORBIDDEN)
def test_every_illegal_refund_move_is_refused(current, new):
    refund = Refund(status=current)
    with pytest.raises(TransitionError):
        refund.move_to(new)
    assert refund.status == current


def test_refund_legal_moves():
    assert {(a, b) for a, t in Refund.TRANSITIONS.items() for b in t} == {
        ("pending", "succeeded"), ("pending", "failed"), ("succeeded", "failed")}


def test_upcoming_means_pending_or_paid():
    assert UPCOMING_STATUSES == {BookingStatus.PENDING, BookingStatus.PAID}
    assert UPCOMING_STATUSES <= set(Booking.Status.values)
