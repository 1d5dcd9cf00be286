"""Forbidden requests and CSRF failures get the site's own pages, with the right status."""

import pytest
from django.test import Client

from apps.bookings.models import Booking
from apps.users.models import User
from tests.factories import InstructorFactory, SessionFactory

pytestmark = pytest.mark.django_db


def assert_site_page(response, status, heading):
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert 'class="site-header"' in page and "/static/css/site.css" in page
    assert heading in page
    assert "Django" not in page and "Reason given for failure" not in page
    return page


def test_a_forbidden_page_is_the_styled_403():
    client = Client()
    client.force_login(InstructorFactory(email="trainer@example.com"))
    page = assert_site_page(client.get("/admin/dashboard/"), 403,
                            "You don't have access to this page")
    assert "signed in as trainer@example.com" in page


def test_a_post_without_csrf_token_gets_the_styled_csrf_page_and_changes_nothing():
    session = SessionFactory()
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/sessions/{session.pk}/book/", {
        "seats": 1, "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
        "attendee_1_name": "Ann Lee", "attendee_1_email": "ann@example.com",
        "accept_terms": "on"})
    assert_site_page(response, 403, "That form had expired")
    assert not Booking.objects.exists()


def test_a_signed_in_post_with_a_stale_token_gets_the_csrf_page():
    user = User.objects.create_user(email="pat@example.com", first_name="Pat")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/portal/profile/", {"first_name": "Mallory",
                                                "csrfmiddlewaretoken": "x" * 64})
    assert_site_page(response, 403, "That form had expired")
    user.refresh_from_db()
    assert user.first_name == "Pat"
