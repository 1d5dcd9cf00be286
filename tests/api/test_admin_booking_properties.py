"""POST /api/admin/bookings under any JSON body (Hypothesis): a 4xx `{"error": {...}}` or
a 201 with the whole booking, never a 500 and never half a booking."""

import json

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from apps.bookings.models import Booking
from apps.users.models import normalize_email
from tests.api.conftest import assert_error
from tests.properties import (
    CAPACITY,
    PROPERTY_SETTINGS,
    TAKEN,
    any_email,
    any_text,
    around_limits,
    example_rolled_back,
    good_name,
    long_valid_email,
    session_with_seats_left,
    snapshot,
    word,
)

pytestmark = pytest.mark.django_db
URL = "/api/admin/bookings"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
weird_attendee = st.one_of(
    json_values,
    st.fixed_dictionaries({"name": st.one_of(any_text, around_limits, json_values),
                           "email": st.one_of(any_email, json_values)}),
    st.fixed_dictionaries({"name": good_name,
                           "email": st.integers(min_value=250, max_value=330)
                           .map(long_valid_email)}),
    st.fixed_dictionaries({"name": good_name, "email": st.just("person0@example.com")}),
)


@st.composite
def api_body(draw, session_id):
    """A correct staff booking of 1 to 6 seats (more than four is sold out), then zero to
    three changes: a value of any JSON type, a key removed, attendees added or removed."""
    seats = draw(st.integers(min_value=1, max_value=CAPACITY))
    body = {
        "session_id": session_id,
        "purchaser": {"email": "buyer@acme.example", "first_name": draw(word),
                      "last_name": draw(word), "company_name": "Acme"},
        "attendees": [{"name": draw(good_name), "email": f"person{n}@example.com"}
                      for n in range(seats)],
        "payment": draw(st.sampled_from(["invoice", "card"])),
        "special_requirements": "",
    }
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        change = draw(st.sampled_from(
            ["session_id", "purchaser", "purchaser.email", "purchaser.first_name", "attendees",
             "attendee", "attendee", "attendee count", "payment", "special_requirements",
             "drop"]))
        if change == "drop":
            body.pop(draw(st.sampled_from(sorted(body))), None)
        elif change == "attendee count":
            size = draw(st.integers(min_value=0, max_value=14))
            kept = body["attendees"] if isinstance(body.get("attendees"), list) else []
            body["attendees"] = (list(kept) + [
                {"name": draw(good_name), "email": f"extra{n}@example.com"}
                for n in range(size)])[:size]
        elif change == "attendee" and isinstance(body.get("attendees"), list) \
                and body["attendees"]:
            index = draw(st.integers(min_value=0, max_value=len(body["attendees"]) - 1))
            body["attendees"][index] = draw(weird_attendee)
        elif change.startswith("purchaser.") and isinstance(body.get("purchaser"), dict):
            body["purchaser"][change.split(".")[1]] = draw(
                st.one_of(any_email, any_text, json_values))
        elif change == "session_id":
            body["session_id"] = draw(st.one_of(json_values, st.integers(),
                                                st.just(session_id + 1000)))
        else:
            body[change] = draw(json_values)
    return body


@pytest.fixture
def session(db):
    return session_with_seats_left()


@given(data=st.data())
@PROPERTY_SETTINGS
def test_any_staff_booking_body_is_a_json_error_or_a_whole_booking(staff_client, session, data):
    body = data.draw(api_body(session.pk))
    with example_rolled_back():
        before = snapshot(session)
        response = staff_client.post(URL, json.dumps(body), content_type="application/json")
        after = snapshot(session)
        event(f"answered {response.status_code}")

        if response.status_code != 201:
            assert response.status_code in (400, 404, 409, 422), response.content
            assert_error(response, response.status_code)
            assert after == before, "a refused booking wrote something"
            return

        created = response.json()
        booking = Booking.objects.get(reference=created["reference"])
        assert after["bookings"] == before["bookings"] | {booking.pk}
        assert after["seats_taken"] == before["seats_taken"] + booking.seats
        assert booking.seats == len(body["attendees"])
        stored = list(booking.attendees.order_by("pk").values_list("name", "email"))
        assert stored == [(a["name"].strip(), normalize_email(a["email"]))
                          for a in body["attendees"]]
        assert [(a["name"], a["email"]) for a in created["attendees"]] == stored
        assert after["attendees"] == before["attendees"] + booking.seats
        expected_users = {normalize_email(body["purchaser"]["email"])} | {e for _, e in stored}
        assert after["users"] == before["users"] | expected_users
        assert booking.status == ("paid" if body["payment"] == "invoice" else "pending")


def test_a_sold_out_staff_booking_leaves_no_new_people_behind(staff_client, session):
    """Found by the property above: the purchaser's and attendees' accounts used to be
    created before the seats were taken, so a 409 sold out left them behind."""
    before = snapshot(session)
    body = {"session_id": session.pk, "payment": "card",
            "purchaser": {"email": "new.buyer@acme.example", "first_name": "New"},
            "attendees": [{"name": f"Guest {n}", "email": f"guest{n}@acme.example"}
                          for n in range(CAPACITY - TAKEN + 1)]}
    response = staff_client.post(URL, body, format="json")
    assert assert_error(response, 409, "sold_out")
    assert snapshot(session) == before
