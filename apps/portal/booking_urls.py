from django.urls import path

from . import booking_views as views

app_name = "bookings"

urlpatterns = [
    path("sessions/<int:session_id>/book/", views.book, name="book"),
    path("bookings/<code:reference>/", views.booking_detail, name="detail"),
    path("bookings/<code:reference>/pay/", views.booking_pay, name="pay"),
    path("bookings/<code:reference>/balance/", views.booking_balance, name="balance"),
    path("bookings/<code:reference>/balance/pay/", views.booking_pay_balance,
         name="pay-balance"),
]
