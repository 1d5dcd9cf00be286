"""Include in config/urls.py before `admin/` (whose catch-all would answer 404 first):

    path("", include("apps.operations.dashboard_urls")),
"""

from django.urls import path

from apps.operations.dashboard_views import staff_dashboard

urlpatterns = [
    path("admin/dashboard/", staff_dashboard, name="staff-dashboard"),
]
