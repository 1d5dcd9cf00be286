from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.backoffice.text import counted
from apps.certificates.models import Certificate
from apps.certificates.services import certificate_revoke


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["number", "holder_name", "course", "issued_on", "expires_on", "revoked_at",
                    "documents"]
    list_filter = ["course", "issued_on"]
    search_fields = ["number", "holder_name", "user__email"]
    list_select_related = ["course"]
    readonly_fields = ["number", "verification_code", "attendee", "user", "course", "session",
                       "issued_on", "created_at", "revoked_at", "documents"]
    fields = ["number", "holder_name", "course", "session", "user", "attendee", "issued_on",
              "expires_on", "verification_code", "documents", "revoked_at", "revoked_reason",
              "created_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # issued from attendance, never typed in

    @admin.display(description="Documents")
    def documents(self, obj):
        if not obj.pk:
            return "—"
        return format_html(
            '<a href="{}">PDF</a> · <a href="{}" target="_blank" rel="noopener">Public check'
            " page</a>",
            reverse("certificates:pdf", args=[obj.number]),
            reverse("certificates:verify", args=[obj.verification_code]),
        )

    def save_model(self, request, obj, form, change):
        if "revoked_reason" in form.changed_data and obj.revoked_reason and not obj.revoked_at:
            certificate_revoke(certificate=obj, reason=obj.revoked_reason, actor=request.user)
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke (fill in the reason on each certificate first)",
                  permissions=["change"])
    def revoke(self, request, queryset):
        done = 0
        for certificate in queryset.filter(revoked_at__isnull=True):
            certificate_revoke(certificate=certificate, actor=request.user,
                               reason=certificate.revoked_reason or "Revoked by staff")
            done += 1
        self.message_user(request, f"{counted(done, 'certificate')} revoked.")
