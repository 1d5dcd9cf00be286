"""Issue #21.3: sold out is one outcome with one status (409), whether the request was
refused before the booking transaction (the page saw no seats) or inside it (another
customer took the last seat in between)."""

import threading
import uuid

import pytest
from django.db import connection
from django.test import Client

from apps.bookings.models import Booking
from apps.sessions.models import CourseSession
from tests.factories import SessionFactory, make_booking
from tests.portal.test_views import form_data


@pytest.mark.django_db
def test_refused_inside_the_transaction_is_409_like_refused_before(client, monkeypatch):
    """The page read the session with a seat left; the last seat went before the INSERT."""
    session = SessionFactory(capacity=1)
    stale = CourseSession.objects.get(pk=session.pk)
    make_booking(session, email="first@example.com")
    monkeypatch.setattr("apps.portal.booking_views.session_for_page", lambda session_id: stale)

    response = client.post(f"/sessions/{session.pk}/book/", form_data(session))

    assert response.status_code == 409
    assert "sold out" in response.content.decode().lower()
    assert not Booking.objects.filter(purchaser__email="pat@example.com").exists()


@pytest.mark.django_db
def test_asking_for_more_seats_than_are_left_is_409(client, monkeypatch):
    """The page offered 3 seats; 2 went before the INSERT; the customer asked for 2."""
    session = SessionFactory(capacity=3)
    stale = CourseSession.objects.get(pk=session.pk)
    make_booking(session, email="first@example.com", seats=2)
    monkeypatch.setattr("apps.portal.booking_views.session_for_page", lambda session_id: stale)
    response = client.post(f"/sessions/{session.pk}/book/", form_data(session, seats=2))
    assert response.status_code == 409
    assert "Only 1 seat left" in response.content.decode()


@pytest.mark.django_db
def test_a_mistake_in_the_form_is_still_200(client):
    session = SessionFactory(capacity=3)
    response = client.post(f"/sessions/{session.pk}/book/",
                           form_data(session, email="not-an-email"))
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_racing_clients_get_302_or_409_and_nothing_else(settings):
    assert connection.vendor == "postgresql"
    settings.BOOKING_RATE_LIMIT = "1000/h"
    session = SessionFactory(capacity=3)
    count = 16
    barrier = threading.Barrier(count)
    statuses = [None] * count

    def customer(index):
        try:
            data = form_data(session, email=f"racer{index}@example.com",
                             token=uuid.uuid4(), attendee_1_email=f"racer{index}@example.com")
            barrier.wait()
            statuses[index] = Client().post(f"/sessions/{session.pk}/book/", data).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses.count(302) == 3, statuses
    assert statuses.count(409) == count - 3, statuses
