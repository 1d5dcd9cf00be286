from django.conf import settings
from django.contrib import admin
from django.urls import include, path, register_converter

from apps.core.converters import CodeConverter
from apps.core.views import admin_view_on_site, healthz
from apps.users.views import staff_login

# Before the app URLconfs below are imported: they use <code:...>.
register_converter(CodeConverter, "code")

# Staff sign in with a password and a second factor (allauth), not on the admin's own form.
admin.site.login = staff_login

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("apps.operations.dashboard_urls")),  # /admin/dashboard/, before the admin
    # Shadows the admin's own "View on site" URL (admin:view_on_site) with a permission check.
    path("admin/r/<path:content_type_id>/<path:object_id>/",
         admin.site.admin_view(admin_view_on_site), name="staff-view-on-site"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("portal/", include("apps.portal.urls")),
    path("", include("apps.certificates.urls")),
    path("api/", include("apps.api.urls")),
    path("", include("apps.sessions.urls")),
    path("", include("apps.portal.booking_urls")),
    path("", include("apps.stripe_sync.urls")),
    path("", include("apps.portal.waitlist_urls")),
    path("", include("apps.legal.urls")),
]

# The database unreachable is a 503 page, wherever in the request it is noticed.
handler500 = "apps.core.unavailable.server_error"
handler400 = "apps.core.unavailable.bad_request"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
