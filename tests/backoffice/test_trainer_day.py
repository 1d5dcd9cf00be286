"""Issue #19 item 8: the register as a PDF sign-in sheet, and attendance on a phone."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.bookings.models import Attendee
from apps.payments.services import payment_record_manual
from apps.users.models import User
from apps.users.roles import Role
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def trainer():
    return User.objects.create_user("sam.patel@example.com", "pw-123456789",
                                    role=Role.INSTRUCTOR, first_name="Sam", last_name="Patel")


@pytest.fixture
def todays_group(trainer):
    start = timezone.now() - timedelta(hours=1)
    session = SessionFactory(starts_at=start, trainer=trainer)
    booking = make_booking(session, email="boss@example.com", seats=3,
                           now=start - timedelta(days=7))
    payment_record_manual(booking=booking, actor=None)
    return session, booking


def test_the_register_is_a_pdf_from_the_session_page_and_the_list(admin_client, todays_group):
    session, _ = todays_group
    page = admin_client.get(reverse("admin:course_sessions_coursesession_change",
                                    args=[session.pk])).content.decode()
    url = reverse("admin:course_sessions_coursesession_register", args=[session.pk])
    assert url in page
    response = admin_client.get(url)
    assert response["Content-Type"] == "application/pdf"
    assert response.content[:4] == b"%PDF"
    assert "attachment" in response["Content-Disposition"]
    action = admin_client.post(reverse("admin:course_sessions_coursesession_changelist"), {
        "action": "print_register", "_selected_action": [session.pk]})
    assert action["Content-Type"] == "application/pdf" and action.content[:4] == b"%PDF"


def test_the_register_lists_the_paid_attendees(todays_group):
    from apps.backoffice.register import session_register

    session, booking = todays_group
    names = [a.name for a in session_register(session_ids=[session.pk])]
    assert sorted(names) == sorted(booking.attendees.values_list("name", flat=True))


def test_an_instructor_marks_attendance_on_their_session(client, trainer, todays_group,
                                                         django_capture_on_commit_callbacks):
    session, booking = todays_group
    client.force_login(trainer)
    url = reverse("admin:course_sessions_coursesession_attendance", args=[session.pk])
    page = client.get(url).content.decode()
    came, absent, _ = booking.attendees.order_by("pk")
    assert came.name in page and "Attended" in page and "No-show" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"attendee": came.pk,
                                     "attendance": Attendee.Attendance.ATTENDED}, follow=True)
    assert f"{came.name}: attended." in response.content.decode()
    client.post(url, {"attendee": absent.pk, "attendance": Attendee.Attendance.NO_SHOW})
    came.refresh_from_db()
    absent.refresh_from_db()
    assert came.attendance == Attendee.Attendance.ATTENDED
    assert absent.attendance == Attendee.Attendance.NO_SHOW
    assert client.get(reverse("admin:course_sessions_coursesession_register",
                              args=[session.pk])).content[:4] == b"%PDF"


def test_an_instructor_cannot_open_another_trainers_session(client, trainer, todays_group):
    other = SessionFactory()
    client.force_login(trainer)
    for name in ("attendance", "register"):
        url = reverse(f"admin:course_sessions_coursesession_{name}", args=[other.pk])
        assert client.get(url).status_code == 404
