from allauth.mfa.models import Authenticator
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.backoffice.hub import activity_target_names, describe_data
from apps.backoffice.money import money_fields
from apps.backoffice.text import counted
from apps.bookings.models import Booking
from apps.certificates.models import Certificate
from apps.core.money import format_money
from apps.payments.models import Payment
from apps.users.models import (
    ActivityLog,
    MarketingConsentChange,
    User,
    UserNote,
    normalize_email,
)
from apps.users.roles import is_admin, may_manage_account, role_set_at_creation
from apps.users.selectors import user_for_email
from apps.users.services import (
    marketing_consent_set,
    personal_data_viewed,
    user_change_email,
    user_change_role,
)

from .common import KeptOnceMoneyMoved, NeverDeleted, ReadOnlyInline, UnifiedHistory


class PurchasedBookingsInline(ReadOnlyInline):
    model = Booking
    fk_name = "purchaser"
    verbose_name_plural = "Bookings (most recent first)"
    fields = money_fields(Booking, ["reference", "session", "seats", "total_amount", "status",
                                    "created_at"])
    readonly_fields = fields
    ordering = ["-created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("session__course", "session__location")


class PaymentsInline(ReadOnlyInline):
    model = Payment
    verbose_name_plural = "Payment history"
    fields = money_fields(Payment, ["created_at", "booking", "method", "amount", "status",
                                    "card_brand", "card_last4"])
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("booking")


class CertificatesInline(ReadOnlyInline):
    model = Certificate
    fields = ["number", "course", "issued_on", "expires_on", "revoked_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("course")


class NotesInline(admin.StackedInline):
    model = UserNote
    fk_name = "user"
    extra = 1
    fields = ["text", "author", "created_at"]
    readonly_fields = ["author", "created_at"]
    verbose_name_plural = "Staff notes (encrypted at rest)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


def activity_target_link(entry, names: dict) -> str:
    """The entry's target by name, linked to its admin page ("BK-7K3M9Q", "Priya Shah");
    `names` is activity_target_names() of the page the entry is on."""
    if not entry.target_type:
        return "—"
    name = names.get((entry.target_type, entry.target_id))
    if name is None:
        return f"{entry.target_type} {entry.target_id} (no longer kept)"
    app_label, model = entry.target_type.split(".")
    return format_html('<a href="{}">{}</a>', reverse(
        f"admin:{app_label}_{model}_change", args=[entry.target_id]), name)


class ActivityInline(ReadOnlyInline):
    model = ActivityLog
    fk_name = "user"
    show_change_link = False
    verbose_name_plural = "Activity history"
    fields = ["created_at", "action", "actor", "about", "what_changed"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    @admin.display(description="About")
    def about(self, obj):
        # An inline instance lives for one request: name the targets of all its rows at
        # once (one query per kind of target), not one query per row.
        names = getattr(self, "_target_names", None)
        if names is None:
            names = self._target_names = activity_target_names(
                ActivityLog.objects.filter(user_id=obj.user_id))
        return activity_target_link(obj, names)

    @admin.display(description="What changed")
    def what_changed(self, obj):
        return describe_data(obj.data) or "—"


class StaffUserChangeForm(UserChangeForm):
    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        owner = user_for_email(email=email)
        if owner is not None and owner.pk != self.instance.pk:
            raise forms.ValidationError("This address already belongs to another account.")
        return email


@admin.register(User)
class UserAdmin(UnifiedHistory, KeptOnceMoneyMoved, DjangoUserAdmin):
    form = StaffUserChangeForm
    ordering = ["email"]
    list_display = ["email", "full_name", "company_name", "role", "total_bookings",
                    "spent", "date_joined"]
    list_filter = ["role", "is_staff", "is_active", "marketing_consent"]
    search_fields = ["email", "first_name", "last_name", "company_name", "phone"]
    readonly_fields = money_fields(User, ["statistics", "total_bookings", "total_spent",
                                          "date_joined", "last_login", "anonymised_at"])
    inlines = [NotesInline, PurchasedBookingsInline, PaymentsInline, CertificatesInline,
               ActivityInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "phone", "company_name",
                                "marketing_consent"]}),
        # The role is the control: staff, superuser and groups follow it (read-only here).
        ("Role and access", {"fields": ["role", "is_active", "is_staff", "is_superuser",
                                        "groups"]}),
        ("Statistics", {"fields": ["statistics"]}),
        ("Dates", {"fields": ["date_joined", "last_login", "anonymised_at"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "first_name",
                                                               "last_name", "role"]})]

    def money_moved(self, obj) -> bool:
        return obj.bookings.exists() or obj.payments.exists() or obj.attendances.exists()

    def has_change_permission(self, request, obj=None):
        if obj is not None and not may_manage_account(request.user, obj):
            return False  # view only; the password page answers 403
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # The role is the only source of staff powers: staff, superuser and groups follow it
        # (users/roles.py), for everyone.
        fields = list(super().get_readonly_fields(request, obj)) + [
            "is_staff", "is_superuser", "groups"]
        if not is_admin(request.user):
            fields.append("role")  # only admins hand out roles; support edits profiles
        return fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            user = response.context_data["original"]
            personal_data_viewed(viewer=request.user, user_id=user.pk, target=user,
                                 where="admin: customer page")
        return response

    def save_model(self, request, obj, form, change):
        new_email = obj.email
        if change and "email" in form.changed_data:
            obj.email = form.initial["email"]  # changed below: sign-ins and records follow
        consent = obj.marketing_consent
        if change and "marketing_consent" in form.changed_data:
            obj.marketing_consent = form.initial["marketing_consent"]  # through the service
        if change and "role" in form.changed_data:
            obj.role = form.initial["role"]  # changed in save_related, through the service
        super().save_model(request, obj, form, change)
        if obj.email != new_email:
            obj.email = user_change_email(user=obj, email=new_email, actor=request.user).email
        if consent != obj.marketing_consent:
            marketing_consent_set(user=obj, given=consent, actor=request.user,
                                  source=MarketingConsentChange.Source.ADMIN)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        if not change:
            role_set_at_creation(user=user, actor=request.user)
            return
        # The role the form asked for (a support member's form has none: theirs stays).
        # The same role again still puts right any access that drifted from it.
        role = form.cleaned_data.get("role", user.role)
        user.role = user_change_role(user=user, role=role, actor=request.user).role

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_formset(self, request, form, formset, change):
        if formset.model is UserNote:
            for note in formset.save(commit=False):
                note.author = note.author or request.user
                note.save()
            for note in formset.deleted_objects:
                note.delete()
            return
        super().save_formset(request, form, formset, change)

    @admin.display(description="Customer statistics")
    def statistics(self, obj):
        if not obj.pk:
            return "—"
        last = obj.bookings.order_by("-created_at").values_list("created_at", flat=True).first()
        today = timezone.localdate()
        certificates = obj.certificates.filter(revoked_at__isnull=True)
        expiring = certificates.filter(expires_on__gte=today).order_by("expires_on").first()
        return format_html(
            "{} · {} spent net of refunds · last booking {} · {}{}",
            counted(obj.total_bookings, "paid booking"),
            format_money(obj.total_spent, settings.DEFAULT_CURRENCY),
            last.strftime("%d %b %Y") if last else "never",
            counted(certificates.count(), "certificate"),
            format_html(" · next expiry {}", expiring.expires_on.strftime("%d %b %Y"))
            if expiring and expiring.expires_on else "",
        )

    @admin.display(description="Total spent", ordering="total_spent")
    def spent(self, obj):
        return format_money(obj.total_spent, settings.DEFAULT_CURRENCY)


@admin.register(ActivityLog)
class ActivityLogAdmin(NeverDeleted, admin.ModelAdmin):
    list_display = ["created_at", "action", "actor_name", "about", "target", "change"]
    list_filter = ["action"]  # the "About" column names each target
    search_fields = ["action", "target_id", "user__email", "actor__email"]
    list_select_related = ["actor", "user"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "action", "actor", "user", "target", "change", "data"]
    fields = readonly_fields

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._target_names = activity_target_names(changelist.result_list)
        return changelist

    @admin.display(description="By", ordering="actor__last_name")
    def actor_name(self, obj):
        return obj.actor.get_full_name() if obj.actor else "System"

    @admin.display(description="Customer", ordering="user__last_name")
    def about(self, obj):
        if obj.user is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:users_user_change",
                                                         args=[obj.user_id]),
                           obj.user.get_full_name())

    @admin.display(description="About")
    def target(self, obj):
        names = getattr(self, "_target_names", None)
        if names is None or (obj.target_type, obj.target_id) not in names:
            names = activity_target_names([obj])
        return activity_target_link(obj, names)

    @admin.display(description="What changed")
    def change(self, obj):
        return describe_data(obj.data) or "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Staff's second factors: an admin sees who has one and removes a lost one (its owner then
# sets up a new one at the next sign-in); nobody sees or edits a secret here.
admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin):
    list_display = ["user", "type", "created_at", "last_used_at"]
    list_filter = ["type"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    fields = ["user", "type", "created_at", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
