from django.urls import path

from . import views

app_name = "bookings"

urlpatterns = [
    path("sessions/<int:session_id>/book/", views.book, name="book"),
    path("bookings/<str:reference>/", views.booking_detail, name="detail"),
    path("bookings/<str:reference>/pay/setup/", views.booking_pay_setup, name="pay-setup"),
    path("bookings/<str:reference>/pay/", views.booking_pay, name="pay"),
]
