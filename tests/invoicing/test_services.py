from decimal import Decimal

import pytest
from django.utils import timezone

from apps.core.errors import DomainError
from apps.invoicing.models import CreditNote, Invoice, InvoiceLine
from apps.invoicing.services import (
    credit_note_issue,
    invoice_for_paid_booking,
    invoice_reissue_to_company,
)
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from apps.refunds.services import refund_create
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_paying_a_booking_issues_its_invoice_with_frozen_seller_buyer_and_vat(paid):
    invoice = Invoice.objects.get(booking=paid)
    assert invoice.number == "INV-000001"
    assert (invoice.seller_name, invoice.seller_vat_number) == (
        "Brightwater Training Ltd", "GB 123 4567 89")
    assert invoice.buyer_email == "buyer@example.com"
    assert invoice.gross_total == 19000 == paid.total_amount
    assert (invoice.vat_total, invoice.net_total) == (3167, 15833)
    [line] = invoice.lines.all()
    assert (line.quantity, line.unit_gross, line.vat_rate, line.gross) == (
        2, 9500, Decimal("20.00"), 19000)
    assert invoice.due_on == timezone.localdate(invoice.issued_at)


def test_one_invoice_per_booking_however_often_asked(paid):
    first = Invoice.objects.get(booking=paid)
    assert invoice_for_paid_booking(booking=paid) == first
    assert Invoice.objects.filter(booking=paid).count() == 1


def test_an_unpaid_booking_gets_no_invoice(vat_20):
    booking = make_booking(SessionFactory(price=5000))
    with pytest.raises(DomainError, match="no invoice"):
        invoice_for_paid_booking(booking=booking)
    assert not Invoice.objects.exists()


def test_a_discounted_booking_is_invoiced_at_what_was_charged(vat_20):
    booking = make_booking(SessionFactory(price=9500), seats=3)
    type(booking).objects.filter(pk=booking.pk).update(total_amount=25650)  # 10% off
    booking.refresh_from_db()
    payment_record_manual(booking=booking, actor=None)
    invoice = Invoice.objects.get(booking=booking)
    assert [line.gross for line in invoice.lines.all()] == [28500, -2850]
    assert invoice.gross_total == 25650
    assert invoice.net_total + invoice.vat_total == 25650


def test_an_issued_invoice_refuses_changes_and_deletion(paid):
    invoice = Invoice.objects.get(booking=paid)
    invoice.buyer_name = "Someone else"
    with pytest.raises(DomainError, match="never changes"):
        invoice.save()
    with pytest.raises(DomainError):
        invoice.delete()
    with pytest.raises(DomainError):
        Invoice.objects.filter(pk=invoice.pk).update(gross_total=1)
    with pytest.raises(DomainError):
        Invoice.objects.all().delete()
    line = invoice.lines.get()
    line.gross = 1
    with pytest.raises(DomainError):
        line.save()
    with pytest.raises(DomainError):
        InvoiceLine.objects.all().delete()
    invoice.refresh_from_db()
    assert invoice.buyer_name != "Someone else" and invoice.gross_total == 19000


def test_a_refund_credits_the_invoice_for_the_refunded_amount(paid):
    payment = Payment.objects.get(booking=paid)
    refund_create(payment=payment, amount=4000, initiator="staff", reason="Goodwill")
    # invoice payments are refunded by staff by bank transfer: recorded as succeeded
    note = CreditNote.objects.get()
    invoice = Invoice.objects.get(booking=paid)
    assert note.invoice == invoice and note.number == "CN-000001"
    assert note.gross_total == 4000 and note.vat_total == 667
    assert note.reason == "Refund (staff)"  # never the free-text reason (erasure)
    assert (note.buyer_email, note.seller_name) == (invoice.buyer_email, invoice.seller_name)


def test_a_credit_note_never_exceeds_what_is_left(paid):
    invoice = Invoice.objects.get(booking=paid)
    credit_note_issue(invoice=invoice, amount=15000, reason="x", source_key="test:1")
    assert credit_note_issue(invoice=invoice, amount=15000, reason="x",
                             source_key="test:1").gross_total == 15000  # same key: once
    with pytest.raises(DomainError, match="only £40.00 left"):
        credit_note_issue(invoice=invoice, amount=4001, reason="y", source_key="test:2")


def test_adding_company_details_credits_and_reissues(paid):
    old = Invoice.objects.get(booking=paid)
    new = invoice_reissue_to_company(invoice=old, company="Acme Ltd",
                                     address="1 High St\nLeeds", vat_number="GB999999973",
                                     actor=paid.purchaser)
    assert new.replaces == old and new.number == "INV-000002"
    assert (new.buyer_company, new.buyer_vat_number) == ("Acme Ltd", "GB999999973")
    assert new.gross_total == old.gross_total
    note = CreditNote.objects.get(invoice=old)
    assert note.gross_total == old.gross_total
    with pytest.raises(DomainError, match="already been replaced"):
        invoice_reissue_to_company(invoice=old, company="B", address="", vat_number="",
                                   actor=None)
