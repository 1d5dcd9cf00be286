from django.contrib import admin

from .models import Certificate


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["number", "holder_name", "course", "issued_on", "expires_on", "revoked_at"]
    list_filter = ["course", "issued_on"]
    search_fields = ["number", "holder_name", "user__email"]
    list_select_related = ["course"]
    readonly_fields = ["number", "verification_code", "attendee", "user", "course", "session",
                       "issued_on", "created_at"]
