from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Booking
from apps.certificates.attendance import attendance_record
from apps.certificates.models import Certificate
from apps.core.errors import ConflictError
from apps.core.models import Communication
from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_group(django_capture_on_commit_callbacks):
    """A paid three-seat booking on a session that took place yesterday."""
    start = timezone.now() - timedelta(days=1)
    session = SessionFactory(starts_at=start, course__validity_months=36)
    booking = make_booking(session, email="boss@example.com", seats=3,
                           now=start - timedelta(days=7))
    payment_record_manual(booking=booking, actor=None)
    return booking


def test_attendance_issues_one_certificate_per_attendee_who_came(
        finished_group, django_capture_on_commit_callbacks, mailoutbox):
    came, also_came, absent = finished_group.attendees.order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        attendance_record(attendee_ids=[came.pk, also_came.pk], attendance="attended")
        attendance_record(attendee_ids=[absent.pk], attendance="no_show")
    finished_group.refresh_from_db()
    assert finished_group.status == "completed"
    holders = set(Certificate.objects.values_list("attendee_id", flat=True))
    assert holders == {came.pk, also_came.pk}
    sent = Communication.objects.filter(kind="certificate_issued")
    assert set(sent.values_list("recipient", flat=True)) == {came.email, also_came.email}
    pdfs = [m for m in mailoutbox if m.attachments]
    assert len(pdfs) == 2 and pdfs[0].attachments[0][2] == "application/pdf"
    assert pdfs[0].attachments[0][1][:4] == b"%PDF"


def test_marking_twice_still_gives_one_certificate_each(
        finished_group, django_capture_on_commit_callbacks):
    ids = list(finished_group.attendees.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        attendance_record(attendee_ids=ids, attendance="attended")
    with django_capture_on_commit_callbacks(execute=True):
        attendance_record(attendee_ids=ids, attendance="attended")
    from apps.certificates.tasks import issue_certificates_task

    issue_certificates_task.delay(finished_group.pk)  # the task running again
    assert Certificate.objects.count() == 3
    assert Communication.objects.filter(kind="certificate_issued").count() == 3


def test_nobody_came_makes_a_no_show_booking_without_certificates(
        finished_group, django_capture_on_commit_callbacks):
    ids = list(finished_group.attendees.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        attendance_record(attendee_ids=ids, attendance="no_show")
    finished_group.refresh_from_db()
    assert finished_group.status == "no_show"
    assert not Certificate.objects.exists()


def test_attendance_cannot_be_marked_before_the_session(db):
    booking = make_booking(SessionFactory())
    payment_record_manual(booking=booking, actor=None)
    with pytest.raises(ConflictError, match="once the session has started"):
        attendance_record(attendee_ids=[booking.attendees.get().pk], attendance="attended")
    assert Booking.objects.get(pk=booking.pk).status == "paid"


def test_staff_mark_a_whole_session_attended_from_admin(
        admin_client, finished_group, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/course_sessions/coursesession/", {
            "action": "mark_everyone_attended",
            "_selected_action": [finished_group.session_id]}, follow=True)
    assert "3 attendees marked attended" in response.content.decode()
    assert Certificate.objects.count() == 3


def test_revoking_is_recorded(admin_client, finished_group, django_capture_on_commit_callbacks):
    from apps.certificates.services import certificate_revoke

    ids = list(finished_group.attendees.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        attendance_record(attendee_ids=ids, attendance="attended")
    certificate = Certificate.objects.first()
    certificate_revoke(certificate=certificate, reason="Assessment not passed")
    certificate.refresh_from_db()
    assert certificate.revoked_at and certificate.validity() == "revoked"
