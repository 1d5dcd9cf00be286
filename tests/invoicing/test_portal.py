import pytest
from django.urls import reverse

from apps.invoicing.models import CreditNote, Invoice
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _pdf_text(pdf: bytes) -> str:
    from io import BytesIO  # noqa: PLC0415 - pypdf is a test-only reader

    from pypdf import PdfReader  # noqa: PLC0415

    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def test_the_purchaser_downloads_the_invoice_pdf_from_the_booking_page(client, paid):
    client.force_login(paid.purchaser)
    page = client.get(reverse("portal:booking", args=[paid.reference]))
    invoice = Invoice.objects.get(booking=paid)
    url = reverse("portal:document-pdf", args=[paid.reference, invoice.number])
    assert url in page.content.decode()

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]
    text = _pdf_text(response.content)
    assert "VAT INVOICE" in text.upper() and text.count(invoice.number) >= 2
    assert "GB 123 4567 89" in text and "£190.00" in text and "£31.67" in text


def test_someone_else_cannot_download_it(client, paid):
    invoice = Invoice.objects.get(booking=paid)
    client.force_login(UserFactory())
    url = reverse("portal:document-pdf", args=[paid.reference, invoice.number])
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to sign in


def test_company_details_credit_the_invoice_and_issue_a_new_one(client, paid):
    client.force_login(paid.purchaser)
    url = reverse("portal:invoice-company", args=[paid.reference])
    bad = client.post(url, {"company": "Acme Ltd", "address": "1 High St", "vat_number": "=1+1"})
    assert "Enter a VAT number" in bad.content.decode()
    assert Invoice.objects.count() == 1

    response = client.post(url, {"company": "Acme Ltd", "address": "1 High St\nLeeds LS1 1AA",
                                 "vat_number": "gb 999 9999 73"})
    assert response.status_code == 302
    old, new = Invoice.objects.order_by("id")
    assert new.replaces == old and new.buyer_vat_number == "GB999999973"
    assert CreditNote.objects.get().invoice == old
    text = _pdf_text(client.get(reverse("portal:document-pdf",
                                        args=[paid.reference, new.number])).content)
    assert "Acme Ltd" in text and "GB999999973" in text and old.number in text
    # a further change starts from the new invoice, never the replaced one
    assert f"Invoice {new.number} is made out to Acme Ltd" in client.get(url).content.decode()
