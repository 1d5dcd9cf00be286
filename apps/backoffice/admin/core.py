from django.conf import settings
from django.contrib import admin
from django.contrib.sites.models import Site
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override

from apps.core.models import Communication

from .common import NeverDeleted

# The one Site row follows SITE_URL/SITE_NAME (apps.core.sites): editing it here would not last.
admin.site.unregister(Site)

# An email's HTML shown in the back office: its own document, in a sandboxed frame (no
# scripts, no same-origin access), with only inline styles and remote images allowed.
EMAIL_PREVIEW_CSP = {"default-src": ["'none'"], "style-src": ["'unsafe-inline'"],
                     "img-src": ["https:", "data:"], "frame-ancestors": ["'self'"],
                     "sandbox": True}


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
    readonly_fields = ["html_preview"] + [f.name for f in Communication._meta.fields
                                          if f.name != "html_body"]

    @admin.display(description="Email as the recipient sees it")
    def html_preview(self, obj):
        if not obj or not obj.html_body:
            return "Plain text only (see the body below)."
        url = reverse("admin:core_communication_html", args=[obj.pk])
        return format_html('<iframe src="{}" sandbox="" title="The email, as sent" '
                           'class="email-preview" width="100%" height="640"></iframe>', url)

    def get_urls(self):
        return [path("<int:pk>/html/", self.admin_site.admin_view(self.html_view),
                     name="core_communication_html")] + super().get_urls()

    def html_view(self, request, pk):
        communication = get_object_or_404(Communication, pk=pk)
        if not self.has_view_permission(request, communication):
            raise PermissionDenied
        if not communication.html_body:
            raise Http404
        return _email_document(communication.html_body)

    def has_add_permission(self, request):
        return False


@xframe_options_sameorigin
@csp_override(EMAIL_PREVIEW_CSP)
def _email_document(html: str) -> HttpResponse:
    return HttpResponse(html)
