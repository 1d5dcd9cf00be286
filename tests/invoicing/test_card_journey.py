"""A card booking's documents through its life on the fake Stripe: the invoice when the
card payment succeeds, a credit note when the customer cancels for a refund."""

import pytest

from apps.invoicing.models import CreditNote, Invoice
from apps.refunds.cancellation import booking_cancel
from apps.refunds.models import Refund
from tests.factories import SessionFactory, make_booking
from tests.refunds.conftest import pay_by_card

pytestmark = pytest.mark.django_db


def test_card_payment_issues_the_invoice_and_a_cancellation_credits_it(
        fake_stripe, vat_20, django_capture_on_commit_callbacks):
    booking = make_booking(SessionFactory(capacity=10, price=4999), seats=3)
    assert not Invoice.objects.exists()  # nothing before the money
    pay_by_card(booking)
    invoice = Invoice.objects.get(booking=booking)
    assert invoice.gross_total == 14997 and invoice.vat_total == 2500  # 2499.5 → 2500
    assert invoice.net_total == 12497

    with django_capture_on_commit_callbacks(execute=True):  # the refund goes to Stripe
        booking_cancel(booking_id=booking.pk, actor=None, reason="Customer asked")
    refund = Refund.objects.get()
    assert refund.status == "succeeded"
    note = CreditNote.objects.get()
    assert note.invoice == invoice and note.gross_total == refund.amount
    assert note.source_key == f"refund:{refund.pk}"
    assert invoice.gross_total - note.gross_total == 14997 - refund.amount
