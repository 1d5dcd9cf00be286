from django.contrib import admin, messages

from apps.backoffice.money import money_field_names, money_fields
from apps.backoffice.text import counted
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.refunds.models import Refund
from apps.refunds.services import refund_retry

from .common import NeverDeleted, UnifiedHistory


@admin.register(Refund)
class RefundAdmin(UnifiedHistory, NeverDeleted, admin.ModelAdmin):
    list_display = ["created_at", "payment", "money", "status", "initiator", "reason",
                    "failure_reason", "stripe_refund_id"]
    list_filter = ["status", "initiator"]
    search_fields = ["stripe_refund_id", "payment__stripe_payment_intent_id",
                     "payment__booking__reference"]
    list_select_related = ["payment"]
    readonly_fields = money_fields(Refund, [f.name for f in Refund._meta.fields])
    exclude = money_field_names(Refund)
    actions = ["retry_failed"]

    @admin.action(description="Retry the selected failed or stuck pending refunds",
                  permissions=["change"])
    def retry_failed(self, request, queryset):
        done = 0
        for refund in queryset.select_related("payment"):
            try:
                refund_retry(refund=refund, actor=request.user)
                done += 1
            except DomainError as error:
                self.message_user(request, error.message, messages.WARNING)
        if done:
            self.message_user(request, f"{counted(done, 'refund')} sent again.")

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return False

    @admin.display(description="Amount", ordering="amount")
    def money(self, obj):
        return format_money(obj.amount, obj.currency)
