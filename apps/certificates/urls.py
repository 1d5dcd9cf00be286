from django.urls import path

from . import views

app_name = "certificates"

urlpatterns = [
    path("certificates/verify/<code:code>/", views.verify, name="verify"),
    path("portal/certificates/<code:number>.pdf", views.portal_certificate_pdf, name="pdf"),
]
