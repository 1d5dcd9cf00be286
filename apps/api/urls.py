from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from . import views

app_name = "api"

urlpatterns = [
    path("sessions/", views.SessionListView.as_view(), name="sessions"),
    path("sessions/<int:pk>/", views.SessionDetailView.as_view(), name="session"),
    path("customer/me", views.CustomerMeView.as_view(), name="customer-me"),
    path("customer/bookings", views.CustomerBookingListView.as_view(), name="customer-bookings"),
    path("customer/bookings/<code:reference>", views.CustomerBookingDetailView.as_view(),
         name="customer-booking"),
    path("admin/users/", views.AdminUserListView.as_view(), name="admin-users"),
    path("admin/users/<int:pk>", views.AdminUserDetailView.as_view(), name="admin-user"),
    path("admin/bookings", views.AdminBookingCreateView.as_view(), name="admin-bookings"),
    path("admin/payments/<int:pk>/refunds", views.AdminRefundCreateView.as_view(),
         name="admin-refunds"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.ApiDocsView.as_view(url_name="api:schema"), name="docs"),
    # Any character, newlines included: every other /api/ path is a JSON 404.
    re_path(r"^[\s\S]*$", views.NotFoundView.as_view(), name="not-found"),
]
