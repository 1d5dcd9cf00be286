from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from apps.backoffice.money import money_field_names, money_fields
from apps.backoffice.search import ExactSearchMixin, is_booking_reference, is_email
from apps.backoffice.text import counted
from apps.core.money import format_money
from apps.payments.models import Dispute, DisputeEvent, Payment, PaymentEvent, StripeEvent
from apps.stripe_sync.tasks import stripe_event_requeue
from apps.users.models import normalize_email

from .common import NeverDeleted, ReadOnlyInline, UnifiedHistory


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = ["created_at", "kind", "stripe_event", "data"]
    readonly_fields = fields
    show_change_link = False


class DisputeInline(ReadOnlyInline):
    model = Dispute
    fields = money_fields(Dispute, ["stripe_dispute_id", "status", "amount", "reason",
                                    "evidence_due_by", "money_lost"])
    readonly_fields = fields


class DisputeEventInline(ReadOnlyInline):
    model = DisputeEvent
    fields = money_fields(DisputeEvent, ["created_at", "type", "status", "money_effect",
                                         "stripe_created", "source_id"])
    readonly_fields = fields
    show_change_link = False


@admin.register(Dispute)
class DisputeAdmin(NeverDeleted, admin.ModelAdmin):
    """Chargebacks, read-only: they change only through Stripe's events."""

    list_display = ["created_at", "booking", "money", "reason", "status", "evidence_due_by",
                    "lost", "stripe_dispute_id"]
    list_filter = ["status", "reason"]
    search_fields = ["stripe_dispute_id", "payment__stripe_payment_intent_id",
                     "payment__booking__reference"]
    list_select_related = ["payment__booking"]
    readonly_fields = money_fields(Dispute, [f.name for f in Dispute._meta.fields])
    exclude = money_field_names(Dispute)
    inlines = [DisputeEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Booking", ordering="payment__booking__reference")
    def booking(self, obj):
        return obj.payment.booking.reference

    @admin.display(description="Amount", ordering="amount")
    def money(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Money lost", ordering="money_lost")
    def lost(self, obj):
        return format_money(obj.money_lost, obj.currency)


@admin.register(Payment)
class PaymentAdmin(UnifiedHistory, NeverDeleted, ExactSearchMixin, admin.ModelAdmin):
    list_display = ["created_at", "booking", "user", "method", "money", "status", "card",
                    "stripe_payment_intent_id"]
    list_filter = ["status", "method", "card_brand", "created_at"]
    search_fields = ["stripe_payment_intent_id", "booking__reference", "user__email"]
    exact_search = [
        (is_email, lambda term: Q(user__email=normalize_email(term))),
        (is_booking_reference, lambda term: Q(booking__reference=term.upper())),
        (lambda term: term.startswith("pi_"), lambda term: Q(stripe_payment_intent_id=term)),
    ]
    list_select_related = ["booking", "user"]
    show_full_result_count = False
    readonly_fields = money_fields(Payment, [f.name for f in Payment._meta.fields]) + [
        "refund_link"]
    exclude = money_field_names(Payment)
    inlines = [DisputeInline, PaymentEventInline]
    actions = ["refund_selected"]

    def get_urls(self):
        return [
            path("<int:payment_id>/refund/", self.admin_site.admin_view(self.refund_view),
                 name="payments_payment_refund"),
        ] + super().get_urls()

    @admin.display(description="Refund")
    def refund_link(self, obj):
        if not obj.pk or not obj.has_succeeded:
            return "Only a succeeded payment can be refunded."
        url = reverse("admin:payments_payment_refund", args=[obj.pk])
        return format_html('<a class="button" href="{}">Refund part or all…</a>', url)

    @admin.action(description="Refund the selected payment…", permissions=["change"])
    def refund_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one payment to refund.", messages.ERROR)
            return None
        return redirect("admin:payments_payment_refund", queryset.get().pk)

    def refund_view(self, request, payment_id):
        """Refunds are made from the booking's page, with its confirmation step."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        payment = get_object_or_404(Payment, pk=payment_id)
        return redirect("admin:bookings_booking_refund", payment.booking_id, payment.pk)

    @admin.display(description="Amount", ordering="amount")
    def money(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Card")
    def card(self, obj):
        return f"{obj.card_brand} ····{obj.card_last4}" if obj.card_last4 else ""


@admin.register(StripeEvent)
class StripeEventAdmin(NeverDeleted, admin.ModelAdmin):
    list_display = ["received_at", "type", "stripe_id", "object_id", "status", "attempts",
                    "last_error"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_id", "object_id"]
    readonly_fields = [f.name for f in StripeEvent._meta.fields]
    actions = ["reprocess"]

    @admin.action(description="Reprocess selected events")
    def reprocess(self, request, queryset):
        count = stripe_event_requeue(event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{counted(count, 'event')} queued for processing again.")

    def has_add_permission(self, request):
        return False


@admin.register(PaymentEvent)
class PaymentEventAdmin(NeverDeleted, admin.ModelAdmin):
    list_display = ["created_at", "payment", "kind", "stripe_event"]
    list_filter = ["kind"]
    search_fields = ["payment__stripe_payment_intent_id", "payment__booking__reference"]
    list_select_related = ["payment", "stripe_event"]
    readonly_fields = [f.name for f in PaymentEvent._meta.fields]

    def has_add_permission(self, request):
        return False
