from django.urls import path

from . import waitlist

app_name = "waitlist"

urlpatterns = [
    path("sessions/<int:session_id>/waiting-list/", waitlist.join, name="join"),
    path("waiting-list/offer/<str:token>/", waitlist.offer, name="offer"),
    path("waiting-list/leave/<str:token>/", waitlist.leave, name="leave"),
]
