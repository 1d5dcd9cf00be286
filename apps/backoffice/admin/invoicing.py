"""Invoices and credit notes: read-only for every role (an issued document never
changes; corrections are credit notes), each with its PDF; and the finance export page."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.invoicing.documents import document_filename, document_pdf
from apps.invoicing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from apps.operations.finance_export import (
    FORMATS,
    export_bytes,
    export_filename,
    finance_export,
    parse_range,
)
from apps.users.audit import log_action

from .common import NeverDeleted

LINE_FIELDS = ["position", "description", "quantity", "unit_gross", "unit_net", "vat_rate",
               "net", "vat", "gross"]


class ReadOnly(NeverDeleted):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InvoiceLineInline(ReadOnly, admin.TabularInline):
    model = InvoiceLine
    fields = readonly_fields = LINE_FIELDS
    extra = 0


class CreditNoteLineInline(ReadOnly, admin.TabularInline):
    model = CreditNoteLine
    fields = readonly_fields = LINE_FIELDS
    extra = 0


class DocumentAdmin(ReadOnly, admin.ModelAdmin):
    date_hierarchy = "issued_at"
    search_fields = ["number", "buyer_email", "buyer_company"]
    list_filter = ["currency"]
    pdf_url_name = ""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["pdf"]

    def get_urls(self):
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}_pdf"
        return [path("<int:pk>/pdf/", self.admin_site.admin_view(self.pdf_view), name=name),
                *super().get_urls()]

    def pdf_view(self, request, pk):
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        document = get_object_or_404(self.model, pk=pk)
        response = HttpResponse(document_pdf(document), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{document_filename(document)}"'
        return response

    @admin.display(description="PDF")
    def pdf(self, obj):
        name = f"admin:{obj._meta.app_label}_{obj._meta.model_name}_pdf"
        return format_html('<a href="{}">{}.pdf</a>', reverse(name, args=[obj.pk]), obj.number)

    @admin.display(description="Total", ordering="gross_total")
    def total(self, obj):
        return format_money(obj.gross_total, obj.currency)

    @admin.display(description="VAT", ordering="vat_total")
    def vat(self, obj):
        return format_money(obj.vat_total, obj.currency)

    @admin.display(description="Buyer")
    def buyer(self, obj):
        return obj.buyer_company or obj.buyer_name


@admin.register(Invoice)
class InvoiceAdmin(DocumentAdmin):
    list_display = ["number", "issued_at", "booking", "buyer", "total", "vat", "due_on",
                    "pdf"]
    list_select_related = ["booking"]
    search_fields = [*DocumentAdmin.search_fields, "booking__reference"]
    inlines = [InvoiceLineInline]
    change_list_template = "admin/invoicing/invoice/change_list.html"

    def get_urls(self):
        return [path("export/", self.admin_site.admin_view(self.export_view),
                     name="invoicing_finance_export"), *super().get_urls()]

    def export_view(self, request):
        """The finance export for a date range, as a download (CSV zip or XLSX)."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        form = FinanceExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                start, end = parse_range(date_from=data["date_from"].isoformat(),
                                         date_to=data["date_to"].isoformat())
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                export = finance_export(date_from=start, date_to=end)
                log_action("finance.exported", actor=request.user,
                           data={"from": str(start), "to": str(end), "format": data["fmt"],
                                 "rows": export.counts()})
                content = export_bytes(export, fmt=data["fmt"])
                kind = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                        if data["fmt"] == "xlsx" else "application/zip")
                response = HttpResponse(content, content_type=kind)
                response["Content-Disposition"] = (
                    f'attachment; filename="{export_filename(export, fmt=data["fmt"])}"')
                return response
            messages.error(request, "Please correct the dates.")
        return TemplateResponse(request, "admin/invoicing/finance_export.html", {
            **self.admin_site.each_context(request), "title": "Finance export", "form": form,
            "opts": self.model._meta})


@admin.register(CreditNote)
class CreditNoteAdmin(DocumentAdmin):
    list_display = ["number", "issued_at", "invoice", "buyer", "total", "vat", "reason", "pdf"]
    list_select_related = ["invoice"]
    search_fields = [*DocumentAdmin.search_fields, "invoice__number",
                     "invoice__booking__reference"]
    inlines = [CreditNoteLineInline]


def _last_month():
    today = timezone.localdate()
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


class FinanceExportForm(forms.Form):
    date_from = forms.DateField(label="From (included)",
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To (included)",
                              widget=forms.DateInput(attrs={"type": "date"}))
    fmt = forms.ChoiceField(label="Format", choices=[
        (f, "Excel workbook (.xlsx)" if f == "xlsx" else "CSV files (.zip)") for f in FORMATS])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        start, end = _last_month()
        self.fields["date_from"].initial = start
        self.fields["date_to"].initial = end
