from django.contrib import admin

from apps.core.money import format_money

from .models import Payment, PaymentEvent, StripeEvent
from .webhooks import stripe_event_requeue


class PaymentEventInline(admin.TabularInline):
    model = PaymentEvent
    extra = 0
    fields = ["created_at", "kind", "stripe_event", "data"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "booking", "user", "method", "money", "status", "card",
                    "stripe_payment_intent_id"]
    list_filter = ["status", "method", "card_brand"]
    search_fields = ["stripe_payment_intent_id", "booking__reference", "user__email"]
    list_select_related = ["booking", "user"]
    readonly_fields = [f.name for f in Payment._meta.fields]
    date_hierarchy = "created_at"
    inlines = [PaymentEventInline]

    @admin.display(description="Amount", ordering="amount")
    def money(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Card")
    def card(self, obj):
        return f"{obj.card_brand} ····{obj.card_last4}" if obj.card_last4 else ""


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "type", "stripe_id", "object_id", "status", "attempts",
                    "last_error"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_id", "object_id"]
    readonly_fields = [f.name for f in StripeEvent._meta.fields]
    actions = ["reprocess"]

    @admin.action(description="Reprocess selected events")
    def reprocess(self, request, queryset):
        count = stripe_event_requeue(event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} event(s) queued for processing again.")

    def has_add_permission(self, request):
        return False


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "payment", "kind", "stripe_event"]
    list_filter = ["kind"]
    search_fields = ["payment__stripe_payment_intent_id", "payment__booking__reference"]
    list_select_related = ["payment", "stripe_event"]
    readonly_fields = [f.name for f in PaymentEvent._meta.fields]

    def has_add_permission(self, request):
        return False
