"""Dates a person reads are local dates (settings.TIME_ZONE, Europe/London): a
certificate's issue and expiry dates follow the session's end in London, not in UTC
(issue #24 item 6)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.certificates.services import certificate_issue
from tests.factories import CourseFactory, SessionFactory, make_booking

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def test_a_session_ending_after_midnight_in_summer_is_certified_on_the_london_date(settings):
    assert settings.TIME_ZONE == "Europe/London"
    ends = datetime(2026, 6, 2, 0, 30, tzinfo=LONDON)  # 23:30 UTC on 1 June
    session = SessionFactory(course=CourseFactory(validity_months=36),
                             starts_at=ends - timedelta(hours=7), ends_at=ends)
    attendee = make_booking(session, now=session.starts_at - timedelta(days=1)).attendees.get()

    certificate = certificate_issue(attendee=attendee)

    assert certificate.issued_on == date(2026, 6, 2)
    assert certificate.expires_on == date(2029, 6, 2)
