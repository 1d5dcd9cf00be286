"""Editing a session in admin never writes back the seats or status it loaded."""

import pytest
from django.db.models.signals import pre_save

from apps.sessions.models import CourseSession
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_an_admin_edit_keeps_a_booking_and_a_cancellation_made_while_it_saved(admin_client):
    session = SessionFactory(capacity=10, notes="")
    url = f"/admin/course_sessions/coursesession/{session.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data["starts_at_0"], data["starts_at_1"] = form["starts_at"].value().strftime(
        "%Y-%m-%d"), form["starts_at"].value().strftime("%H:%M:%S")
    data["ends_at_0"], data["ends_at_1"] = form["ends_at"].value().strftime(
        "%Y-%m-%d"), form["ends_at"].value().strftime("%H:%M:%S")
    data.pop("starts_at"), data.pop("ends_at")
    data["notes"] = "Bring a packed lunch."

    def booked_meanwhile(sender, instance, **kwargs):
        # Between the admin loading the session and saving it, a customer books and the
        # session is cancelled (both commit on their own; here, in the same transaction).
        pre_save.disconnect(booked_meanwhile, sender=CourseSession)
        make_booking(session, seats=3)
        CourseSession.objects.filter(pk=session.pk).update(status="cancelled")

    pre_save.connect(booked_meanwhile, sender=CourseSession, weak=False)
    try:
        response = admin_client.post(url, data)
    finally:
        pre_save.disconnect(booked_meanwhile, sender=CourseSession)
    assert response.status_code == 302, response.context["adminform"].form.errors

    session.refresh_from_db()
    assert session.notes == "Bring a packed lunch."
    assert session.seats_taken == 3 and session.status == "cancelled"
