from axes.helpers import get_client_username, get_failure_limit
from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import run_checks


@never_cache
@require_GET
def healthz(request):
    results = run_checks()
    down = [name for name, (ok, _) in results.items() if not ok]
    body = {
        "status": "ok" if not down else "unavailable",
        "down": down,
        "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()},
    }
    return JsonResponse(body, status=503 if down else 200)


def rate_limited(request, exception=None):
    """django-ratelimit sends blocked requests here: a clear 429, JSON for API clients."""
    message = "Too many attempts from your connection. Please wait a few minutes and try again."
    if request.path.startswith("/api/") or request.headers.get("Accept") == "application/json":
        return JsonResponse({"error": {"code": "throttled", "message": message}}, status=429)
    return render(request, "core/429.html", {"message": message}, status=429)


def locked_out(request, original_response=None, credentials=None):
    """django-axes answers a locked-out password login with this page (429)."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return render(request, "core/locked_out.html", {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "minutes": minutes,
    }, status=429)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the site's own page instead of Django's technical one."""
    return render(request, "403_csrf.html", status=403)


def admin_view_on_site(request, content_type_id, object_id):
    """The admin's "View on site" redirect, only to staff who may see that object in admin.
    Django's own shortcut redirects any staff member: it told an instructor the reference
    of any booking, by id."""
    try:
        model = ContentType.objects.get_for_id(int(content_type_id)).model_class()
    except (ValueError, ContentType.DoesNotExist):
        model = None
    model_admin = admin.site._registry.get(model)
    obj = model_admin.get_object(request, object_id) if model_admin else None
    if obj is None or not model_admin.has_view_or_change_permission(request, obj):
        raise Http404("No such object.")
    return shortcut(request, content_type_id, object_id)
