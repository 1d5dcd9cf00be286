"""The public booking form under any input (Hypothesis): a clear form error or a valid
booking, never a 500 and never half a booking."""

import uuid

import pytest
from django.core.exceptions import NON_FIELD_ERRORS
from django.test import Client
from django.utils.html import escape
from hypothesis import event, given
from hypothesis import strategies as st

from apps.bookings.models import Attendee, Booking
from apps.users.models import normalize_email
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

MISSING = None  # the field is left out of the POST altogether

# Weird values for each kind of field; None drops the field.
weird = {
    "seats": st.one_of(st.integers(min_value=-1, max_value=CAPACITY + 2).map(str), any_text),
    "first_name": any_text,
    "last_name": any_text,
    "email": st.one_of(any_email, st.integers(min_value=250, max_value=330).map(long_valid_email)),
    "phone": any_text,
    "company_name": any_text,
    "special_requirements": st.one_of(any_text, st.text(min_size=1990, max_size=2100)),
    "submission_token": any_text,
    "attendee_name": st.one_of(any_text, good_name, around_limits),
    "attendee_email": st.one_of(any_email, st.just("person0@example.com"),
                                st.integers(min_value=250, max_value=330).map(long_valid_email)),
}


@st.composite
def form_input(draw):
    """A correct booking of 1 to 5 seats (5 is more than are left), then zero to three
    changes: a field made strange or left out, attendees added or removed."""
    seats = draw(st.integers(min_value=1, max_value=TAKEN + 3))
    values = {
        "seats": str(seats), "first_name": draw(word), "last_name": draw(word),
        "email": "buyer@example.com", "phone": "", "company_name": "",
        "special_requirements": "", "submission_token": str(draw(st.uuids())),
        "accept_terms": "on",
        "attendees": [[draw(good_name), f"person{n}@example.com"] for n in range(seats)],
    }
    fields = sorted(set(weird) - {"attendee_name", "attendee_email"})
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        change = draw(st.sampled_from([*fields, "attendee", "attendee count"]))
        if change == "attendee count":
            size = draw(st.integers(min_value=0, max_value=CAPACITY + 1))
            values["attendees"] = (values["attendees"] + [
                [draw(good_name), f"extra{n}@example.com"] for n in range(size)])[:size]
        elif change == "attendee" and values["attendees"]:
            row = draw(st.sampled_from(values["attendees"]))
            column = draw(st.sampled_from([0, 1]))
            kind = "attendee_name" if column == 0 else "attendee_email"
            row[column] = draw(st.one_of(weird[kind], st.none()))
        elif change in weird:
            values[change] = draw(st.one_of(weird[change], st.none()))
    return values


def as_post(values: dict) -> dict:
    data = {key: value for key, value in values.items()
            if key != "attendees" and value is not None}
    for n, (name, email) in enumerate(values["attendees"], start=1):
        if name is not None:
            data[f"attendee_{n}_name"] = name
        if email is not None:
            data[f"attendee_{n}_email"] = email
    return data


@pytest.fixture
def session(db):
    return session_with_seats_left()


@given(values=form_input())
@PROPERTY_SETTINGS
def test_any_booking_form_post_is_a_form_error_or_a_whole_booking(session, values):
    client = Client()
    url = f"/sessions/{session.pk}/book/"
    with example_rolled_back():
        before = snapshot(session)
        response = client.post(url, as_post(values))
        after = snapshot(session)

        posted = as_post(values)
        if any("\x00" in str(value) for value in posted.values()):
            # A NUL anywhere is refused for the whole site before the form (#21.1).
            assert response.status_code == 400
            assert after == before
            return
        assert response.status_code in (200, 302, 409), response.status_code
        event(f"answered {response.status_code}")
        if response.status_code == 409:
            # More seats asked for than are left: the conflict status (#21.3), the form
            # re-shown with that error, nothing written.
            assert response.context["form"].has_error(NON_FIELD_ERRORS, "sold_out")
            assert int(values["seats"]) > session.capacity - before["seats_taken"]
        if response.status_code in (200, 409):
            errors = response.context["form"].errors
            assert errors, "a re-shown form must say what is wrong"
            html = response.content.decode()
            for messages in errors.values():
                for message in messages:
                    assert escape(message) in html, f"error not shown: {message}"
            assert after == before, "a refused booking wrote something"
            return

        new = after["bookings"] - before["bookings"]
        assert len(new) == 1
        booking = Booking.objects.get(pk=new.pop())
        assert response["Location"] == booking.get_absolute_url()
        assert after["seats_taken"] == before["seats_taken"] + booking.seats
        posted = values["attendees"][:booking.seats]
        assert booking.seats == int(values["seats"]) == len(posted)
        stored = list(booking.attendees.order_by("pk").values_list("name", "email"))
        assert stored == [(name.strip(), normalize_email(email)) for name, email in posted]
        assert after["attendees"] == before["attendees"] + booking.seats
        expected_users = {normalize_email(values["email"])} | {email for _, email in stored}
        assert after["users"] == before["users"] | expected_users
        assert booking.purchaser.email == normalize_email(values["email"])


def test_the_rollback_between_examples_is_real(session):
    """Guard for the property above: a booking made inside an example is gone after it."""
    client = Client()
    before = snapshot(session)
    with example_rolled_back():
        data = as_post({"seats": "1", "first_name": "Ann", "last_name": "Lee",
                        "email": "ann@example.com", "submission_token": str(uuid.uuid4()),
                        "accept_terms": "on",
                        "attendees": [("Ann Lee", "ann@example.com")]})
        assert client.post(f"/sessions/{session.pk}/book/", data).status_code == 302
        assert snapshot(session) != before
    assert snapshot(session) == before


# Regressions the property above found (each was a 500 or an error the page did not show).

def book(session, **overrides):
    data = as_post({"seats": "1", "first_name": "Ann", "last_name": "Lee",
                    "email": "ann@example.com", "submission_token": str(uuid.uuid4()),
                    "accept_terms": "on",
                    "attendees": [("Ann Lee", "ann@example.com")]})
    data.update(overrides)
    data = {key: value for key, value in data.items() if value is not None}
    return Client().post(f"/sessions/{session.pk}/book/", data)


@pytest.mark.parametrize("token", [None, "", "not-a-uuid"])
def test_a_missing_or_mangled_submission_token_still_books(session, token):
    response = book(session, submission_token=token)
    assert response.status_code == 302
    assert Booking.objects.filter(purchaser__email="ann@example.com").count() == 1


def test_a_one_word_name_longer_than_a_first_name_books_and_is_kept_whole(session):
    name = "W" * 180
    response = book(session, attendee_1_name=name, attendee_1_email="w@example.com")
    assert response.status_code == 302
    attendee = Attendee.objects.get(email="w@example.com")
    assert attendee.name == name
    assert attendee.user.first_name == "W" * 150


def test_an_email_longer_than_the_database_holds_is_a_form_error(session):
    before = snapshot(session)
    email = long_valid_email(300)
    response = book(session, attendee_1_email=email)
    assert response.status_code == 200
    assert "at most 254 characters" in response.content.decode()
    assert snapshot(session) == before
