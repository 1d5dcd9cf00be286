from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.sessions.models import CourseSession
from apps.sessions.selectors import session_for_page
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_session_for_page_reads_what_the_orm_reads_in_one_statement():
    session = SessionFactory(capacity=7, notes="Bring the new manikins")
    make_booking(session, email="someone@example.com", seats=2)
    expected = CourseSession.objects.select_related("course", "location", "trainer").get(
        pk=session.pk)

    with CaptureQueriesContext(connection) as queries:
        found = session_for_page(session_id=session.pk)
        related = (found.course, found.location, found.trainer)
    assert len(queries) == 1

    for ours, theirs in zip((found, *related),
                            (expected, expected.course, expected.location, expected.trainer),
                            strict=True):
        assert type(ours) is type(theirs) and ours.pk == theirs.pk
        assert not ours._state.adding and ours._state.db == "default"
        for field in type(ours)._meta.concrete_fields:
            mine, orm = getattr(ours, field.attname), getattr(theirs, field.attname)
            assert mine == orm and type(mine) is type(orm), field.name
    assert found.seats_left == 5 and isinstance(found.course.duration_hours, Decimal)
    assert found.starts_at.tzinfo is not None


def test_session_for_page_is_none_for_an_unknown_session():
    assert session_for_page(session_id=987654) is None


def test_a_session_read_for_the_page_saves_like_any_other():
    session = session_for_page(session_id=SessionFactory(capacity=5).pk)
    session.capacity = 9
    session.save(update_fields=["capacity"])
    assert CourseSession.objects.get(pk=session.pk).capacity == 9
