"""Invoices and credit notes in the back office: read-only for every role, no delete,
their PDFs, the booking hub's links, and the finance export page."""

import io
import zipfile

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.invoicing.models import CreditNote, Invoice
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from apps.refunds.services import refund_create
from apps.users.models import ActivityLog, User
from apps.users.roles import Role
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def documents(settings):
    settings.VAT_RATE_PERCENT = 20
    booking = make_booking(SessionFactory(price=5000), seats=2)
    payment_record_manual(booking=booking, actor=None)
    refund_create(payment=Payment.objects.get(booking=booking), amount=5000,
                  initiator="staff", reason="One could not come")
    return booking, Invoice.objects.get(), CreditNote.objects.get()


@pytest.fixture(params=[Role.ADMIN, Role.SUPPORT])
def staff_client(request, client):
    staff = User.objects.create_user(f"{request.param}@example.com", "pw-123456789",
                                     role=request.param)
    if request.param == Role.ADMIN:
        staff.is_superuser = True
        staff.save(update_fields=["is_superuser"])
    client.force_login(staff)
    return client


@pytest.mark.parametrize("model", [Invoice, CreditNote], ids=lambda m: m.__name__)
def test_documents_are_read_only_and_never_deleted_in_admin(staff_client, documents, model):
    obj = Invoice.objects.get() if model is Invoice else CreditNote.objects.get()
    opts = model._meta
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    page = staff_client.get(change)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and "deletelink" not in html
    before = model.objects.values().get(pk=obj.pk)
    staff_client.post(change, {"buyer_name": "Changed", "gross_total": "1"})
    assert model.objects.values().get(pk=obj.pk) == before
    delete = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code in (302, 403)
    assert model.objects.filter(pk=obj.pk).exists()
    assert staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
                            ).status_code == 403

    pdf = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_pdf",
                                   args=[obj.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_the_booking_hub_links_its_invoice_and_credit_note(admin_client, documents):
    booking, invoice, note = documents
    html = admin_client.get(reverse("admin:bookings_booking_change",
                                    args=[booking.pk])).content.decode()
    assert reverse("admin:invoicing_invoice_change", args=[invoice.pk]) in html
    assert reverse("admin:invoicing_creditnote_change", args=[note.pk]) in html
    assert f"Credit note {note.number}" in html


def test_money_section_lists_invoices_and_the_export_page_downloads(staff_client, documents):
    index = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:invoicing_invoice_changelist") in index
    url = reverse("admin:invoicing_finance_export")
    assert url in staff_client.get(reverse("admin:invoicing_invoice_changelist")).content.decode()
    today = timezone.localdate().isoformat()

    response = staff_client.post(url, {"date_from": today, "date_to": today, "fmt": "xlsx"})
    assert response["Content-Disposition"].endswith(f'finance-{today}-to-{today}.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book["Sales"].max_row == 1 + 2  # the invoice's line and the credit note's
    response = staff_client.post(url, {"date_from": today, "date_to": today, "fmt": "csv"})
    assert "sales.csv" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert ActivityLog.objects.filter(action="finance.exported").count() == 2

    bad = staff_client.post(url, {"date_from": today, "date_to": "2000-01-01", "fmt": "csv"})
    assert bad.status_code == 200 and "before it starts" in bad.content.decode()


def test_an_instructor_cannot_export(client, documents):
    instructor = User.objects.create_user("i@example.com", "pw-123456789",
                                          role=Role.INSTRUCTOR)
    client.force_login(instructor)
    response = client.get(reverse("admin:invoicing_finance_export"))
    assert response.status_code in (302, 403)
