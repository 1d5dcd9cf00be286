from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from apps.core.money import format_money

from .models import ActivityLog, User


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
