"""Discount codes and group prices. Saving goes through apps.pricing.services (which logs
who changed what); codes are never deleted (bookings point at them): deactivate them."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.backoffice.money import MoneyFormMixin
from apps.bookings.models import BookingDiscount
from apps.core.money import format_money
from apps.pricing.models import DiscountCode, GroupDiscount
from apps.pricing.services import (
    discount_code_deactivate,
    discount_code_save,
    group_discount_save,
)


class DiscountCodeForm(forms.ModelForm):
    class Meta:
        model = DiscountCode
        fields = ["code", "description", "kind", "percent", "amount", "currency", "course",
                  "session", "valid_from", "valid_until", "max_uses", "active"]

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == DiscountCode.Kind.PERCENTAGE:
            cleaned["amount"] = None
            percent = cleaned.get("percent")
            if not percent or not 1 <= percent <= 100:
                self.add_error("percent", "A percentage code needs a whole percent, 1 to 100.")
        elif kind == DiscountCode.Kind.FIXED:
            cleaned["percent"] = None
            if not cleaned.get("amount"):
                self.add_error("amount", "A fixed amount code needs the amount it takes off.")
        start, end = cleaned.get("valid_from"), cleaned.get("valid_until")
        if start and end and end <= start:
            self.add_error("valid_until", "The code must end after it starts.")
        if cleaned.get("course") and cleaned.get("session") \
                and cleaned["session"].course_id != cleaned["course"].pk:
            self.add_error("session", "That session is of another course.")
        return cleaned


def _value(obj: DiscountCode) -> str:
    if obj.is_percentage:
        return f"{obj.percent}% off"
    return f"{format_money(obj.amount or 0, obj.currency)} off"


@admin.register(DiscountCode)
class DiscountCodeAdmin(MoneyFormMixin, admin.ModelAdmin):
    form = DiscountCodeForm
    list_display = ["code", "value", "scope", "valid_from", "valid_until", "uses_display",
                    "active"]
    list_filter = ["active", "kind"]
    search_fields = ["code", "description"]
    list_select_related = ["course", "session__course"]
    autocomplete_fields = ["course"]
    raw_id_fields = ["session"]
    readonly_fields = ["uses", "bookings_using", "created_at", "updated_at"]
    actions = ["deactivate"]

    @admin.display(description="Discount")
    def value(self, obj):
        return _value(obj)

    @admin.display(description="For")
    def scope(self, obj):
        if obj.session_id:
            return str(obj.session)
        return obj.course.title if obj.course_id else "Every course"

    @admin.display(description="Uses")
    def uses_display(self, obj):
        return f"{obj.uses} of {obj.max_uses}" if obj.max_uses is not None else str(obj.uses)

    @admin.display(description="Bookings with this code")
    def bookings_using(self, obj):
        if obj.pk is None:
            return "—"
        lines = (BookingDiscount.objects.filter(code=obj)
                 .select_related("booking").order_by("-booking__created_at")[:200])
        rows = [
            (reverse("admin:bookings_booking_change", args=[line.booking_id]),
             line.booking.reference, line.booking.get_status_display(),
             format_money(line.amount, line.booking.currency),
             "use given back" if line.use_released_at else "counted")
            for line in lines]
        if not rows:
            return "None yet."
        return format_html("<ul>{}</ul>", format_html_join(
            "", '<li><a href="{}">{}</a> ({}): {} off, {}</li>', rows))

    def save_model(self, request, obj, form, change):
        discount_code_save(code=obj, actor=request.user)

    @admin.action(description="Deactivate the selected codes")
    def deactivate(self, request, queryset):
        done = sum(discount_code_deactivate(code_id=pk, actor=request.user)
                   for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{done} code{'s' if done != 1 else ''} deactivated.")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GroupDiscount)
class GroupDiscountAdmin(admin.ModelAdmin):
    list_display = ["__str__", "min_seats", "percent", "course", "active"]
    list_filter = ["active"]
    list_select_related = ["course"]
    autocomplete_fields = ["course"]

    def save_model(self, request, obj, form, change):
        group_discount_save(rule=obj, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False


class BookingDiscountInline(admin.TabularInline):
    """On the booking page: what was taken off its list price."""

    model = BookingDiscount
    extra = 0
    can_delete = False
    fields = ["kind", "code", "label", "amount_display", "use_released_at"]
    readonly_fields = fields

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.booking.currency)

    def has_add_permission(self, request, obj=None):
        return False

