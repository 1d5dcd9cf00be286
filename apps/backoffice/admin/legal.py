from django.contrib import admin

from apps.legal.models import LegalDocument
from apps.legal.services import legal_document_create


@admin.register(LegalDocument)
class LegalDocumentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "version", "published_at", "created_at"]
    list_filter = ["kind"]
    ordering = ["kind", "-version"]
    fields = ["kind", "version", "body", "published_at", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["version", "created_at"]
        if obj.is_published:  # bookings point at it: a new version is a new row
            return ["kind", "version", "body", "published_at", "created_at"]
        return ["kind", "version", "created_at"]

    def get_changeform_initial_data(self, request):
        """A new version starts from the latest one's text (?kind=terms or privacy)."""
        initial = super().get_changeform_initial_data(request)
        latest = LegalDocument.objects.filter(kind=initial.get("kind", "terms")) \
            .order_by("-version").first()
        if latest is not None:
            initial.setdefault("kind", latest.kind)
            initial["body"] = latest.body
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = legal_document_create(kind=obj.kind, body=obj.body,
                                        published_at=obj.published_at, actor=request.user)
        obj.pk, obj.version, obj.created_at = created.pk, created.version, created.created_at

    def has_delete_permission(self, request, obj=None):
        return False
