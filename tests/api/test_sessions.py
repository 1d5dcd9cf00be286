from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.conftest import assert_error, client_for
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_lists_upcoming_sessions_with_seats_left_and_pagination():
    soon = SessionFactory(capacity=10, starts_at=timezone.now() + timedelta(days=3))
    make_booking(soon, seats=3)
    SessionFactory(starts_at=timezone.now() - timedelta(days=1),
                   ends_at=timezone.now() - timedelta(hours=18))  # past: not listed
    SessionFactory(status="cancelled")  # cancelled: not listed

    response = client_for().get("/api/sessions/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "results"} and body["next"] is None
    assert len(body["results"]) == 1
    item = body["results"][0]
    assert item["id"] == soon.pk
    assert item["seats_left"] == 7
    assert item["price"] == soon.price and item["currency"] == "GBP"
    assert item["course"]["slug"] == soon.course.slug
    assert item["location"]["id"] == soon.location_id
    assert item["starts_at"] and item["ends_at"]


def test_filters_by_course_location_and_dates():
    now = timezone.now()
    a = SessionFactory(starts_at=now + timedelta(days=5))
    b = SessionFactory(starts_at=now + timedelta(days=20))
    client = client_for()

    def ids(**params):
        response = client.get("/api/sessions/", params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(course=a.course.slug) == [a.pk]
    assert ids(location=b.location_id) == [b.pk]
    day_a = timezone.localdate(a.starts_at).isoformat()
    assert ids(date_from=day_a, date_to=day_a) == [a.pk]
    assert ids(date_from=(now + timedelta(days=10)).date().isoformat()) == [b.pk]
    assert ids(course="no-such-course") == []


@pytest.mark.parametrize("params, field", [
    ({"date_from": "2026-13-45"}, "date_from"),
    ({"date_to": "tomorrow"}, "date_to"),
    ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_to"),
    ({"location": "abc"}, "location"),
    ({"course": "not a slug!"}, "course"),
])
def test_bad_filters_are_400_with_fields(params, field):
    error = assert_error(client_for().get("/api/sessions/", params), 400, "invalid")
    assert field in error["fields"]


def test_bad_cursor_is_a_json_400():
    error = assert_error(client_for().get("/api/sessions/", {"cursor": "made-up"}), 400,
                         "invalid")
    assert "cursor" in error["fields"]


def test_session_detail_and_404():
    session = SessionFactory()
    response = client_for().get(f"/api/sessions/{session.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == session.pk
    assert_error(client_for().get("/api/sessions/999999/"), 404, "not_found")


def test_sessions_are_public_for_every_kind_of_user(customer, instructor, admin_user):
    SessionFactory()
    for user in (None, customer, instructor, admin_user):
        assert client_for(user).get("/api/sessions/").status_code == 200
