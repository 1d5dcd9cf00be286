"""The purchaser's invoices and credit notes: download them, and have the invoice made
out to their company. An issued invoice never changes, so company details produce a
credit note for it and a new invoice to the company (apps.invoicing.services)."""

import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.errors import DomainError
from apps.invoicing.documents import document_filename, document_pdf
from apps.invoicing.selectors import booking_document, invoice_open_to_reissue
from apps.invoicing.services import invoice_reissue_to_company
from apps.refunds.selectors import customer_booking

# Two letters (the country) then 2–13 letters or digits: GB123456789, GB123456789001, DE…
VAT_NUMBER = re.compile(r"^[A-Z]{2}[0-9A-Z]{2,13}$")


class CompanyDetailsForm(forms.Form):
    company = forms.CharField(max_length=200, label="Company name")
    address = forms.CharField(max_length=500, label="Company address",
                              widget=forms.Textarea(attrs={"rows": 4}))
    vat_number = forms.CharField(max_length=30, required=False, label="VAT number (optional)",
                                 help_text="For example GB123456789.")

    def clean_vat_number(self):
        value = re.sub(r"[\s.-]", "", self.cleaned_data["vat_number"]).upper()
        if value and not VAT_NUMBER.match(value):
            raise forms.ValidationError(
                "Enter a VAT number as its country letters and number, e.g. GB123456789.")
        return value


def _purchased_booking(request, reference):
    booking = customer_booking(user=request.user, reference=reference)
    if booking is None or booking.purchaser_id != request.user.pk:
        raise Http404("No booking with that reference is yours.")
    return booking


@login_required
@require_GET
def portal_document_pdf(request, reference, number):
    booking = _purchased_booking(request, reference)
    document = booking_document(booking_id=booking.pk, number=number)
    if document is None:
        raise Http404("This booking has no document with that number.")
    response = HttpResponse(document_pdf(document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document_filename(document)}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def portal_invoice_company(request, reference):
    booking = _purchased_booking(request, reference)
    page = reverse("portal:booking", args=[booking.reference])
    invoice = invoice_open_to_reissue(booking_id=booking.pk)
    if invoice is None:
        messages.error(request, "This booking has no invoice that can take company details "
                                "here. Please contact us.")
        return redirect(page)
    form = CompanyDetailsForm(request.POST or None, initial={
        "company": invoice.buyer_company or booking.company_name,
        "address": invoice.buyer_address, "vat_number": invoice.buyer_vat_number})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new = invoice_reissue_to_company(invoice=invoice, company=data["company"],
                                             address=data["address"],
                                             vat_number=data["vat_number"], actor=request.user)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if new.pk != invoice.pk:
                messages.success(request, f"Invoice {new.number} is made out to "
                                          f"{new.buyer_company}; invoice {invoice.number} is "
                                          "cancelled by a credit note.")
            return redirect(page)
    return render(request, "portal/invoice_company.html",
                  {"booking": booking, "invoice": invoice, "form": form, "page": page})
