from django.contrib import admin

from apps.core.money import format_money

from .models import Refund


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["created_at", "payment", "money", "status", "initiator", "reason",
                    "stripe_refund_id"]
    list_filter = ["status", "initiator"]
    search_fields = ["stripe_refund_id", "payment__stripe_payment_intent_id",
                     "payment__booking__reference"]
    list_select_related = ["payment"]
    readonly_fields = [f.name for f in Refund._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Amount", ordering="amount")
    def money(self, obj):
        return format_money(obj.amount, obj.currency)
