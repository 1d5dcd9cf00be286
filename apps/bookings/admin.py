from django.contrib import admin

from apps.core.money import format_money

from .models import Attendee, Booking


class AttendeeInline(admin.TabularInline):
    model = Attendee
    extra = 0
    fields = ["name", "email", "user", "attendance"]
    readonly_fields = ["user"]


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ["reference", "purchaser", "session", "seats", "total", "status", "created_at"]
    list_filter = ["status", "session__course", "session__starts_at"]
    search_fields = ["reference", "purchaser__email", "purchaser__last_name", "company_name",
                     "attendees__email"]
    list_select_related = ["purchaser", "session__course"]
    readonly_fields = ["reference", "status", "purchaser", "session", "seats", "unit_price",
                       "total_amount", "currency", "hold_expires_at", "created_at", "paid_at",
                       "cancelled_at"]
    date_hierarchy = "created_at"
    inlines = [AttendeeInline]

    @admin.display(description="Total", ordering="total_amount")
    def total(self, obj):
        return format_money(obj.total_amount, obj.currency)


@admin.register(Attendee)
class AttendeeAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "booking", "attendance"]
    list_filter = ["attendance"]
    search_fields = ["name", "email", "booking__reference"]
    list_select_related = ["booking"]
    raw_id_fields = ["booking", "user"]
