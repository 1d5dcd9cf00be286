from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from apps.core.money import format_money

from .models import ActivityLog, User
from .roles import sync_role_groups
from .services import user_change_role


def is_admin(user) -> bool:
    return user.is_superuser or getattr(user, "role", "") == User.Role.ADMIN


def is_instructor_only(user) -> bool:
    """An instructor sees only the sessions they teach, whatever else they may have."""
    return not user.is_superuser and getattr(user, "role", "") == User.Role.INSTRUCTOR


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "company_name", "role", "total_bookings",
                    "spent", "date_joined"]
    list_filter = ["role", "is_staff", "is_active", "marketing_consent"]
    search_fields = ["email", "first_name", "last_name", "company_name", "phone"]
    readonly_fields = ["total_bookings", "total_spent", "date_joined", "last_login",
                       "anonymised_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "phone", "company_name",
                                "marketing_consent"]}),
        ("Role and access", {"fields": ["role", "is_active", "is_staff", "is_superuser",
                                        "groups"]}),
        ("Totals", {"fields": ["total_bookings", "total_spent"]}),
        ("Dates", {"fields": ["date_joined", "last_login", "anonymised_at"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "first_name",
                                                               "last_name", "role"]})]
    filter_horizontal = ["groups"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not is_admin(request.user):
            # Only admins hand out roles and access; support edits profiles.
            fields += ["role", "is_staff", "is_superuser", "groups"]
        return fields

    def save_model(self, request, obj, form, change):
        obj._new_role = obj.role
        if change and "role" in form.changed_data:
            obj.role = form.initial["role"]  # changed in save_related: audited, groups synced
        if not change:
            obj.is_staff = obj._new_role != User.Role.CUSTOMER
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # saves the groups field
        user = form.instance
        if user.role != user._new_role:
            user_change_role(user=user, role=user._new_role, actor=request.user)
        else:
            sync_role_groups(user)

    @admin.display(description="Total spent", ordering="total_spent")
    def spent(self, obj):
        return format_money(obj.total_spent, "GBP")


@admin.register(ActivityLog)
class ActivityLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor", "user", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["action", "target_id", "user__email", "actor__email"]
    list_select_related = ["actor", "user"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
