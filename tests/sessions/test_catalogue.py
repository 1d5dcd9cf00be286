from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.refunds.cancellation import session_cancel
from apps.sessions.catalogue_cache import catalogue_changed
from apps.sessions.models import CourseSession
from tests.factories import CourseFactory, LocationFactory, SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_catalogue_lists_demo_sessions_with_correct_seats_left(client):
    call_command("seed_demo", verbosity=0)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    first_page = (
        CourseSession.objects.upcoming().select_related("course").order_by("starts_at", "pk")[:24]
    )
    for session in first_page:
        assert session.course.title in html
        if session.seats_left:
            assert f'data-seats-left="{session.seats_left}"' in html
    assert "Book your next course" in html


def test_seats_left_reflects_bookings(client):
    session = SessionFactory(capacity=10)
    make_booking(session, seats=3)
    html = client.get("/").content.decode()
    assert "7 seats left" in html


def test_past_and_cancelled_sessions_are_not_listed(client):
    SessionFactory(course=CourseFactory(title="Yesterday's course"),
                   starts_at=timezone.now() - timedelta(days=1))
    SessionFactory(course=CourseFactory(title="Cancelled course"), status="cancelled")
    SessionFactory(course=CourseFactory(title="Tomorrow's course"))
    html = client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert "Tomorrow&#x27;s course" in html
    assert "Yesterday" not in html and "Cancelled course" not in html


def test_filters_by_course_and_location_and_htmx_gets_only_the_list(client):
    wanted = SessionFactory(course=CourseFactory(title="Fire Marshal", slug="fire-marshal"))
    SessionFactory(course=CourseFactory(title="Manual Handling", slug="manual-handling"),
                   location=wanted.location)
    other_place = SessionFactory(course=wanted.course, location=LocationFactory(name="Bristol"))

    response = client.get("/", {"course": "fire-marshal", "location": wanted.location_id},
                          headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # the fragment, not the page
    assert f"/sessions/{wanted.pk}/" in html
    assert f"/sessions/{other_place.pk}/" not in html
    assert "Manual Handling" not in html
    assert response["Vary"].count("HX-Request") == 1


@pytest.mark.parametrize("htmx", [False, True])
def test_query_count_does_not_grow_with_the_number_of_sessions(
        client, htmx, django_capture_on_commit_callbacks):
    headers = {"HX-Request": "true"} if htmx else {}
    course, location = CourseFactory(), LocationFactory()
    trainer = SessionFactory(course=course, location=location).trainer
    for _ in range(4):
        SessionFactory(course=course, location=location, trainer=trainer)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/", headers=headers).status_code == 200
    for n in range(195):
        SessionFactory(course=CourseFactory(), location=LocationFactory(),
                       trainer=trainer,
                       starts_at=timezone.now() + timedelta(days=1, minutes=n))
    with django_capture_on_commit_callbacks(execute=True):
        catalogue_changed()  # factories write rows directly: say what the services say
    with CaptureQueriesContext(connection) as many:
        assert client.get("/", headers=headers).status_code == 200
    assert len(many) == len(few)
    assert len(few) <= 4


def test_the_list_is_rendered_once_and_a_booking_shows_at_once(
        client, django_capture_on_commit_callbacks):
    session = SessionFactory(capacity=10)
    assert "10 seats left" in client.get("/").content.decode()
    with CaptureQueriesContext(connection) as cached:
        html = client.get("/").content.decode()
    assert "10 seats left" in html
    assert not any("coursesession" in q["sql"] for q in cached.captured_queries)

    with django_capture_on_commit_callbacks(execute=True):  # the list goes after the commit
        make_booking(session, seats=3)
    assert "7 seats left" in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        session_cancel(session_id=session.pk, reason="Trainer ill")
    assert f"/sessions/{session.pk}/" not in client.get("/").content.decode()


def test_the_list_is_not_dropped_before_the_commit(client, django_capture_on_commit_callbacks):
    session = SessionFactory(capacity=10)
    assert "10 seats left" in client.get("/").content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        make_booking(session, seats=3)
        # Not committed yet: the bump waits, so no Redis call happens under the seat lock.
        assert "10 seats left" in client.get("/").content.decode()
    assert callbacks


def test_odd_query_strings_get_a_page_not_an_error(client):
    SessionFactory(capacity=4)
    for query in ("?course=" + "x" * 300 + "%20\u00e9", "?location=abc&page=zz",
                  "?page=99999"):
        response = client.get("/" + query)
        assert response.status_code == 200, query
    # A NUL anywhere is refused for the whole site (#21.1): a 400 page, never a 500.
    assert client.get("/?course=" + "x" * 300 + "%00").status_code == 400
