import pytest

from apps.certificates.models import Certificate
from apps.certificates.services import certificate_issue
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_a_certificate_is_issued_once_with_the_course_validity():
    session = SessionFactory(course__validity_months=36)
    attendee = make_booking(session).attendees.get()
    first = certificate_issue(attendee=attendee)
    again = certificate_issue(attendee=attendee)
    assert first.pk == again.pk and Certificate.objects.count() == 1
    issued = session.ends_at.date()
    assert first.issued_on == issued
    assert first.expires_on == issued.replace(year=issued.year + 3)
    assert first.holder_name == attendee.name
    assert len(first.verification_code) >= 20


def test_a_course_without_expiry_gives_a_certificate_without_expiry():
    attendee = make_booking(SessionFactory(course__validity_months=None)).attendees.get()
    assert certificate_issue(attendee=attendee).expires_on is None
