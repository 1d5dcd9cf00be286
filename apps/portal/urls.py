from django.urls import path

from . import access, changes, companies, invoices
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
    path("bookings/<code:reference>/documents/<str:number>.pdf",
         invoices.portal_document_pdf, name="document-pdf"),
    path("bookings/<code:reference>/invoice/company/", invoices.portal_invoice_company,
         name="invoice-company"),
    path("bookings/<code:reference>/substitute/<int:attendee_id>/", portal.portal_substitute,
         name="substitute"),
    # An emailed link: the key says who is looking (no sign-in).
    path("b/<str:token>/", access.access_booking, name="access"),
    path("b/<str:token>/pay/", access.access_pay, name="access-pay"),
    path("b/<str:token>/cancel/", access.access_cancel, name="access-cancel"),
    path("b/<str:token>/receipt/", access.access_receipt, name="access-receipt"),
    path("b/<str:token>/receipt.pdf", access.access_receipt, {"fmt": "pdf"},
         name="access-receipt-pdf"),
    path("b/<str:token>/calendar.ics", access.access_calendar, name="access-calendar"),
    path("b/<str:token>/certificates/<code:number>.pdf", access.access_certificate,
         name="access-certificate"),
    path("b/<str:token>/substitute/<int:attendee_id>/", access.access_substitute,
         name="access-substitute"),
    path("link/", access.access_fresh_link, name="access-fresh"),
    path("profile/", portal.portal_profile, name="profile"),
    path("companies/", companies.portal_companies, name="companies"),
    path("companies/<int:company_id>/", companies.portal_company, name="company"),
    path("data.json", portal.portal_export, name="export"),
    path("delete/", portal.portal_delete, name="delete"),
]
