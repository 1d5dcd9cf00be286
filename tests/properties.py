"""Shared pieces of the property-based tests (Hypothesis).

Hypothesis runs many examples inside one pytest test, so function-scoped fixtures (the
`db` transaction, the client) are shared by every example. Each example therefore runs in
a savepoint that is rolled back afterwards (`example_rolled_back`): every example starts
from the same rows, and what one example wrote is visible to its own assertions only.
"""

import os
from contextlib import contextmanager

from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Moderate example counts keep the suite fast; no example database on disk (CI starts
# clean; a failure prints the falsifying example and its @reproduce_failure blob).
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 50)),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)


@contextmanager
def example_rolled_back():
    """One Hypothesis example: its own savepoint (rolled back) and an empty cache, so rate
    limits and cached availability from earlier examples do not leak into it."""
    cache.clear()
    savepoint = transaction.savepoint_create()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)
        cache.clear()


# Text a person or a script might type: unicode (including combining marks, emoji, right
# to left), control characters, NUL, surrounding blanks, and sometimes very long.
any_text = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), min_size=140, max_size=400),
    st.sampled_from(["", " ", "\x00", "Zoë Ünal", "李小龙", "مريم", "a\u0301", "👩‍🚒",
                     "Robert'); DROP TABLE users;--", "<script>x</script>"]),
)


# Just around the column sizes (40, 150, 200, 254, 2000): where a form and a database
# column disagree about a length, a request ends in a 500.
around_limits = st.sampled_from([39, 40, 41, 149, 150, 151, 199, 200, 201, 1999, 2000, 2001]
                                ).map(lambda n: "x" * n)
any_text = st.one_of(any_text, around_limits)


def long_valid_email(draw_length: int) -> str:
    """A syntactically valid address of about `draw_length` characters (the form and
    serializer accept up to 320/254; the database column holds 254)."""
    local = "a" * 64
    labels = []
    remaining = max(draw_length - len(local) - 1 - 8, 1)
    while remaining > 0:
        size = min(63, remaining)
        labels.append("b" * size)
        remaining -= size + 1
    return f"{local}@{'.'.join(labels)}.example"


any_email = st.one_of(
    st.emails(),
    st.integers(min_value=240, max_value=330).map(long_valid_email),
    any_text,
    st.sampled_from(["Person@Example.COM", " spaced@example.com ", "x@ünicode.example",
                     "no-at-sign", "a@b", "@example.com"]),
)


# The session every booking property test books on: four of six seats left.
CAPACITY, TAKEN = 6, 2

word = st.text(st.characters(categories=["L"]), min_size=1, max_size=20)
good_name = st.builds(lambda first, last: f"{first} {last}", word, word)


def session_with_seats_left():
    from tests.factories import SessionFactory, make_booking

    session = SessionFactory(capacity=CAPACITY)
    make_booking(session, email="earlier@example.com", seats=TAKEN)
    return session


def snapshot(session) -> dict:
    """What a refused request must leave exactly as it was."""
    from apps.bookings.models import Attendee, Booking
    from apps.sessions.models import CourseSession
    from apps.users.models import User

    return {
        "seats_taken": CourseSession.objects.get(pk=session.pk).seats_taken,
        "bookings": set(Booking.objects.values_list("pk", flat=True)),
        "users": set(User.objects.values_list("email", flat=True)),
        "attendees": Attendee.objects.count(),
    }
