from django.conf import settings
from django.contrib import admin

from apps.core.models import Communication

from .common import NeverDeleted

admin.site.site_header = f"{settings.SITE_NAME} back office"
admin.site.site_title = f"{settings.SITE_NAME} back office"
admin.site.index_title = "Run the business"


@admin.register(Communication)
class CommunicationAdmin(NeverDeleted, admin.ModelAdmin):
    list_display = ["created_at", "kind", "recipient", "subject", "status", "booking", "sent_at"]
    list_filter = ["kind", "status"]
    search_fields = ["recipient", "subject", "booking__reference", "dedupe_key"]
    list_select_related = ["booking"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Communication._meta.fields]

    def has_add_permission(self, request):
        return False

