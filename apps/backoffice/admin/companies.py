"""Company accounts: the company, its contacts, and customers' "I book for my employer"
requests, approved or declined here (the services log and email the decision)."""

from django.contrib import admin, messages

from apps.backoffice.money import MoneyFormMixin
from apps.companies.models import Company, CompanyContact, CompanyLinkRequest
from apps.companies.services import (
    company_contact_link,
    company_contact_unlink,
    company_link_request_approve,
    company_link_request_decline,
)
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.payments.on_account import company_owes
from apps.users.audit import log_action


class CompanyContactInline(admin.TabularInline):
    model = CompanyContact
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]


@admin.register(Company)
class CompanyAdmin(MoneyFormMixin, admin.ModelAdmin):
    list_display = ["name", "approved_for_invoice", "payment_terms_days", "credit_limit_text",
                    "owes", "vat_number"]
    list_filter = ["approved_for_invoice", "purchase_order_required"]
    search_fields = ["name", "vat_number"]
    inlines = [CompanyContactInline]
    readonly_fields = ["created_at", "updated_at", "owes"]
    fields = ["name", "billing_address", "vat_number", "approved_for_invoice",
              "purchase_order_required", "payment_terms_days", "credit_limit", "currency",
              "owes", "created_at", "updated_at"]

    @admin.display(description="Credit limit")
    def credit_limit_text(self, obj):
        return "—" if obj.credit_limit is None else format_money(obj.credit_limit, obj.currency)

    @admin.display(description="Owes (unpaid on account)")
    def owes(self, obj):
        return format_money(company_owes(company_id=obj.pk), obj.currency) if obj.pk else "—"

    def save_model(self, request, obj, form, change):
        """Terms, credit limit and invoice approval are money decisions: audited."""
        super().save_model(request, obj, form, change)
        log_action("company.changed" if change else "company.created", actor=request.user,
                   target=obj, data={name: str(form.cleaned_data.get(name))
                                     for name in form.changed_data})

    def save_formset(self, request, form, formset, change):
        """Contacts are linked through the service (audited), not saved raw."""
        if formset.model is not CompanyContact:
            return super().save_formset(request, form, formset, change)
        changed = formset.save(commit=False)
        for obj in formset.deleted_objects:
            company_contact_unlink(company=form.instance, user=obj.user, actor=request.user)
        for contact in changed:
            company_contact_link(company=form.instance, user=contact.user, actor=request.user,
                                 role=contact.role)
        return None


@admin.register(CompanyLinkRequest)
class CompanyLinkRequestAdmin(admin.ModelAdmin):
    list_display = ["user", "company_name", "status", "company", "created_at", "decided_by"]
    list_filter = ["status"]
    list_select_related = ["user", "company", "decided_by"]
    search_fields = ["company_name", "user__email"]
    fields = ["user", "company_name", "message", "company", "status", "decided_by",
              "decided_at", "created_at"]
    readonly_fields = ["user", "company_name", "message", "status", "decided_by", "decided_at",
                       "created_at"]
    autocomplete_fields = ["company"]
    actions = ["approve", "decline"]

    def has_add_permission(self, request):
        return False  # customers ask from the portal; staff link people on the company

    @admin.action(description="Approve: link to the chosen company (or the one named)",
                  permissions=["change"])
    def approve(self, request, queryset):
        for link_request in queryset:
            company = link_request.company or Company.objects.filter(
                name__iexact=link_request.company_name).first()
            if company is None:
                self.message_user(request, f"{link_request}: choose the company on the request "
                                           "first (no company has that name).", messages.ERROR)
                continue
            try:
                company_link_request_approve(request_id=link_request.pk, company=company,
                                             actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{link_request}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{link_request.user} linked to {company}; "
                                           "they have been emailed.")

    @admin.action(description="Decline (the customer is emailed)", permissions=["change"])
    def decline(self, request, queryset):
        for link_request in queryset:
            try:
                company_link_request_decline(request_id=link_request.pk, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{link_request}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{link_request}: declined; the customer has been "
                                           "emailed.")
