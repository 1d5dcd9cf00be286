"""Issue #21.12: staff reads of a customer's personal data are recorded in the activity
log (who, when, what, where), from admin and from the staff API."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.users.models import ActivityLog, User
from tests.factories import SessionFactory, UserFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(db):
    return UserFactory(email="support@example.com", role=User.Role.SUPPORT, is_staff=True,
                       is_superuser=True)


@pytest.fixture
def booking(db):
    return make_booking(SessionFactory(), email="private@example.com")


def _reads(user):
    return list(ActivityLog.objects.filter(action="personal_data.viewed", user=user)
                .values_list("actor__email", "target_type", "data"))


def test_opening_a_customer_in_admin_is_recorded(client, support, booking):
    client.force_login(support)
    customer = booking.purchaser
    assert client.get(f"/admin/users/user/{customer.pk}/change/").status_code == 200
    assert _reads(customer) == [("support@example.com", "users.user",
                                 {"where": "admin: customer page"})]


def test_opening_a_booking_in_admin_is_recorded(client, support, booking):
    client.force_login(support)
    assert client.get(f"/admin/bookings/booking/{booking.pk}/change/").status_code == 200
    assert _reads(booking.purchaser) == [("support@example.com", "bookings.booking",
                                          {"where": "admin: booking page"})]


def test_reading_a_user_through_the_staff_api_is_recorded(support, booking):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=support).key}")
    assert api.get(f"/api/admin/users/{booking.purchaser.pk}").status_code == 200
    assert _reads(booking.purchaser) == [("support@example.com", "users.user",
                                          {"where": "staff API: user detail"})]


def test_the_customer_sees_who_read_their_data_in_their_export(client, support, booking):
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=support).key}")
    staff.get(f"/api/admin/users/{booking.purchaser.pk}")
    client.force_login(booking.purchaser)
    activity = client.get("/portal/data.json").json()["activity"]
    assert any(entry["action"] == "personal_data.viewed" for entry in activity)


def test_looking_at_ones_own_account_is_not_recorded(client, support):
    client.force_login(support)
    client.get(f"/admin/users/user/{support.pk}/change/")
    assert _reads(support) == []
