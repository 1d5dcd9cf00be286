"""A booking on a company's account through its life: invoiced to the company when
confirmed (before payment, due on the payment terms), paid by bank transfer against the
same invoice, or cancelled unpaid with a credit note for the whole invoice."""

import pytest
from django.template.loader import render_to_string

from apps.invoicing.documents import TEMPLATE_NAME, document_context
from apps.invoicing.models import CreditNote, Invoice
from apps.invoicing.selectors import invoice_open_to_reissue
from apps.payments.on_account import booking_on_account_create, on_account_payment_record
from apps.refunds.cancellation import booking_cancel
from tests.companies.helpers import make_company, on_account_request
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_account(vat_20):
    company = make_company(contacts=["boss@acme.example"], terms=30, po=True)
    session = SessionFactory(capacity=5, price=5000)
    return booking_on_account_create(request=on_account_request(session),
                                     company_id=company.pk, purchase_order="PO-4471")


def test_confirmed_on_account_is_invoiced_to_the_company_due_on_its_terms(on_account):
    invoice = Invoice.objects.get(booking=on_account)
    assert (invoice.buyer_company, invoice.buyer_vat_number) == ("Acme Ltd", "GB123456789")
    assert invoice.buyer_address == "1 Acme Way\nLondon"
    assert invoice.due_on == on_account.payment_due_date
    assert invoice.gross_total == 10000 and invoice.vat_total == 1667
    assert invoice.purchase_order == "PO-4471"
    assert "Your PO" in document_context_html(invoice) and "PO-4471" in document_context_html(
        invoice)
    # Made out to the company already: the portal offers no "add your company details".
    assert invoice_open_to_reissue(booking_id=on_account.pk) is None


def document_context_html(invoice):
    return render_to_string(TEMPLATE_NAME, document_context(invoice))


def test_paying_it_keeps_the_same_invoice(on_account):
    staff = UserFactory(email="staff@example.com")
    on_account_payment_record(booking_id=on_account.pk, amount=10000, actor=staff)
    assert Invoice.objects.filter(booking=on_account).count() == 1
    assert not CreditNote.objects.exists()


def test_cancelling_it_unpaid_credits_the_whole_invoice(on_account):
    booking_cancel(booking_id=on_account.pk, actor=None, reason="Course no longer needed")
    note = CreditNote.objects.get()
    assert note.invoice.booking_id == on_account.pk
    assert note.gross_total == 10000 and note.reason == "Booking cancelled"
