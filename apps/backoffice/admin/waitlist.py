"""The waiting list in admin: per session, in queue order, with each entry's place, its
offer and when that offer expires; actions call apps.bookings.waitlist."""

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from apps.bookings.models import WaitingListEntry, WaitingListOffer
from apps.bookings.waitlist import waitlist_entry_leave, waitlist_offer_entry
from apps.core.errors import DomainError

from .common import ReadOnlyInline


class OfferInline(ReadOnlyInline):
    model = WaitingListOffer
    fields = ["seats", "status", "created_at", "expires_at", "closed_at", "booking"]
    readonly_fields = fields
    show_change_link = False


@admin.register(WaitingListEntry)
class WaitingListEntryAdmin(admin.ModelAdmin):
    list_display = ["session", "position", "name", "email", "seats", "status", "offered_at",
                    "offer_expires_at", "joined_at"]
    list_filter = ["status", ("session", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["email", "name"]
    list_select_related = ["session__course", "session__location"]
    ordering = ["session__starts_at", "session_id", "joined_at", "id"]
    readonly_fields = ["session", "name", "email", "seats", "status", "consent_at",
                       "joined_at", "created_at", "updated_at"]
    inlines = [OfferInline]
    actions = ["offer_now", "remove"]

    def has_add_permission(self, request):
        return False  # people join through the session page (the consent is theirs)

    def has_delete_permission(self, request, obj=None):
        return False  # "remove" keeps the record and the activity log says who did it

    def get_queryset(self, request):
        waiting = WaitingListEntry.Status.WAITING
        ahead = WaitingListEntry.objects.filter(
            session_id=OuterRef("session_id"), status=waiting,
        ).filter(Q(joined_at__lt=OuterRef("joined_at"))
                 | Q(joined_at=OuterRef("joined_at"), pk__lt=OuterRef("pk"))
                 ).order_by().values("session_id").annotate(n=Count("pk")).values("n")
        latest = WaitingListOffer.objects.filter(entry=OuterRef("pk")).order_by("-created_at")
        return super().get_queryset(request).annotate(
            ahead=Coalesce(Subquery(ahead), 0),
            last_offered_at=Subquery(latest.values("created_at")[:1]),
            last_expires_at=Subquery(latest.filter(status=WaitingListOffer.Status.LIVE)
                                     .values("expires_at")[:1]),
        )

    @admin.display(description="Place")
    def position(self, obj):
        return obj.ahead + 1 if obj.status == WaitingListEntry.Status.WAITING else "–"

    @admin.display(description="Offered", ordering="last_offered_at")
    def offered_at(self, obj):
        return obj.last_offered_at

    @admin.display(description="Offer expires", ordering="last_expires_at")
    def offer_expires_at(self, obj):
        return obj.last_expires_at

    @admin.action(description="Offer now (if their seats are free)", permissions=["change"])
    def offer_now(self, request, queryset):
        for entry in queryset.order_by("joined_at", "pk"):
            try:
                offer = waitlist_offer_entry(entry_id=entry.pk, actor=request.user)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, f"Offered {offer.seats} seat(s) to {entry.email} "
                                           f"until {offer.expires_at:%d %b %H:%M}.")

    @admin.action(description="Remove from the waiting list", permissions=["change"])
    def remove(self, request, queryset):
        removed = sum(waitlist_entry_leave(entry_id=pk, actor=request.user, by_staff=True)
                      for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{removed} entr{'y' if removed == 1 else 'ies'} removed "
                                   "(any live offer withdrawn and passed on).")
