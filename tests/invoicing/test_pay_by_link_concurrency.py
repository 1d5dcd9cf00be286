"""A bank transfer recorded by staff and a card payment through the invoice link at the
same moment, on PostgreSQL with real threads: the booking is paid once and keeps exactly
its total; a card payment that lands after the transfer is refunded as unneeded."""

import pytest
from django.db import connection
from django.db.models import Sum

from apps.bookings.models import Booking
from apps.core.errors import ConflictError
from apps.invoicing.models import CreditNote, Invoice
from apps.payments.balance import payment_pay_balance
from apps.payments.models import Payment
from apps.payments.on_account import booking_on_account_create, on_account_payment_record
from apps.refunds.models import Refund
from apps.refunds.services import payment_refund_unneeded
from tests.bookings.test_concurrency import run_in_threads
from tests.companies.helpers import make_company, on_account_request
from tests.factories import SessionFactory, UserFactory
from tests.payments.helpers import card_token

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = "4242424242424242"


def kept(booking) -> int:
    """What the business keeps: money that arrived less refunds that have not failed."""
    arrived = Payment.objects.filter(booking=booking, status__in=Payment.MONEY_ARRIVED) \
        .aggregate(s=Sum("amount"))["s"] or 0
    back = Refund.objects.filter(payment__booking=booking, status__in=Refund.NOT_FAILED) \
        .aggregate(s=Sum("amount"))["s"] or 0
    return arrived - back


@pytest.mark.parametrize("round_", range(3))
def test_a_transfer_and_a_card_payment_at_once_never_over_collect(fake_stripe, vat_20, round_):
    assert connection.vendor == "postgresql"
    company = make_company(contacts=[f"boss{round_}@acme.example"], terms=30)
    staff = UserFactory(email=f"staff{round_}@example.com", is_staff=True)
    booking = booking_on_account_create(
        request=on_account_request(SessionFactory(capacity=5, price=5000),
                                   purchaser=f"boss{round_}@acme.example", tag=str(round_)),
        company_id=company.pk)
    token = card_token(GOOD)

    def work(index):
        if index == 0:
            return on_account_payment_record(booking_id=booking.pk, amount=10000, actor=staff)
        result = payment_pay_balance(booking=booking, confirmation_token=token)
        payment_refund_unneeded(payment_id=result.payment.pk)  # as the portal view does
        return result.payment

    results = run_in_threads(2, work)

    for outcome, value in results:
        # The one that came second may find nothing left to pay: a sentence, no money.
        assert outcome == "ok" or (isinstance(value, ConflictError) and value.code in (
            "not_payable", "nothing_owed", "payment_in_progress")), results
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID
    assert kept(booking) == booking.total_amount == 10000
    if all(outcome == "ok" for outcome, _ in results):
        # Both landed: the card payment was not needed and went back in full.
        card = Payment.objects.get(booking=booking, purpose=Payment.Purpose.BALANCE)
        assert card.refunds.get().amount == 10000
    assert Invoice.objects.filter(booking=booking).count() == 1
    assert not CreditNote.objects.filter(invoice__booking=booking).exists()
