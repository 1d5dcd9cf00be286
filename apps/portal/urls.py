from django.urls import path

from . import changes
from . import views as portal

app_name = "portal"

urlpatterns = [
    path("", portal.portal_home, name="home"),
    path("bookings/<code:reference>/", portal.portal_booking, name="booking"),
    path("bookings/<code:reference>/cancel/", portal.portal_cancel, name="cancel"),
    path("bookings/<code:reference>/change-date/", changes.portal_transfer, name="transfer"),
    path("bookings/<code:reference>/places/<int:attendee_id>/cancel/",
         changes.portal_cancel_attendee, name="cancel-attendee"),
    path("bookings/<code:reference>/receipt/", portal.portal_receipt, name="receipt"),
    path("bookings/<code:reference>/receipt.pdf", portal.portal_receipt, {"fmt": "pdf"},
         name="receipt-pdf"),
    path("profile/", portal.portal_profile, name="profile"),
    path("data.json", portal.portal_export, name="export"),
    path("delete/", portal.portal_delete, name="delete"),
]
