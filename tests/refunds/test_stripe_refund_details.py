"""What Stripe is told about each refund: a reason from Stripe's list, and an idempotency
key no other refund, database or deployment sends."""

import pytest

from apps.refunds.models import Refund
from apps.refunds.services import _refund_unneeded_payment, refund_create
from tests.refunds.conftest import stripe_refunds

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("initiator", [Refund.Initiator.STAFF, Refund.Initiator.CUSTOMER,
                                       Refund.Initiator.SESSION_CANCELLED])
def test_refunds_people_asked_for_are_requested_by_the_customer_at_stripe(
        paid_booking, django_capture_on_commit_callbacks, initiator):
    _, payment = paid_booking
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_create(payment=payment, amount=2500, initiator=initiator,
                               reason="Changed plans")
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    at_stripe = {r["id"]: r for r in stripe_refunds(payment)}[refund.stripe_refund_id]
    assert at_stripe["reason"] == "requested_by_customer"
    assert at_stripe["metadata"]["refund_id"] == str(refund.pk)


def test_a_duplicate_payment_is_refunded_as_duplicate(paid_booking,
                                                      django_capture_on_commit_callbacks):
    booking, payment = paid_booking  # the booking stands (paid): this payment is extra
    with django_capture_on_commit_callbacks(execute=True):
        _refund_unneeded_payment(payment, booking, reason="Paid twice")
    refund = Refund.objects.get(payment=payment)
    assert refund.stripe_reason == "duplicate"
    assert {r["reason"] for r in stripe_refunds(payment)} == {"duplicate"}


def test_refund_keys_carry_a_random_part_stored_on_the_row(paid_booking):
    _, payment = paid_booking
    first = refund_create(payment=payment, amount=1000, initiator=Refund.Initiator.STAFF)
    second = refund_create(payment=payment, amount=1000, initiator=Refund.Initiator.STAFF)
    assert first.idempotency_key.startswith(f"refund-{first.pk}-")
    assert first.idempotency_key != f"refund-{first.pk}"
    assert first.stripe_key_nonce != second.stripe_key_nonce
    assert Refund.objects.get(pk=first.pk).idempotency_key == first.idempotency_key
