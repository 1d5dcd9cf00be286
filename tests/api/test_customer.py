import pytest

from apps.users.models import User
from tests.api.conftest import assert_error, client_for
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_me_needs_authentication():
    assert_error(client_for().get("/api/customer/me"), 401, "not_authenticated")
    assert_error(client_for().get("/api/customer/bookings"), 401, "not_authenticated")
    assert_error(client_for().get("/api/customer/bookings/BK-AAAAAA"), 401)


def test_me_shows_profile_and_totals(customer, paid_booking):
    response = client_for(customer).get("/api/customer/me")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == customer.email
    assert body["totals"] == {"bookings": 1, "spent": 10000, "upcoming_bookings": 1,
                              "certificates": 1}


def test_token_auth_works_for_customer_endpoints(customer):
    response = client_for(customer, token=True).get("/api/customer/me")
    assert response.status_code == 200


def test_purchaser_sees_everything(customer, paid_booking):
    response = client_for(customer).get("/api/customer/bookings")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["reference"] == paid_booking.reference
    assert item["role"] == "purchaser"
    assert item["status"] == "paid" and item["payment_status"] == "succeeded"
    assert item["paid"] == 10000 and item["refunded"] == 0
    assert {a["email"] for a in item["attendees"]} == {
        "buyer@example.com", "guest1.buyer@example.com"}
    assert item["certificates"] == ["CERT-TEST00001"]
    assert len(item["payments"]) == 1 and item["payments"][0]["method"] == "invoice"


def test_attendee_sees_only_their_own_seat_and_no_money(paid_booking):
    guest = User.objects.get(email="guest1.buyer@example.com")
    response = client_for(guest).get("/api/customer/bookings")
    item = response.json()["results"][0]
    assert item["role"] == "attendee"
    assert [a["email"] for a in item["attendees"]] == ["guest1.buyer@example.com"]
    assert item["payments"] == [] and item["total_amount"] is None and item["paid"] is None
    assert item["certificates"] == []  # the purchaser's certificate is not theirs

    detail = client_for(guest).get(f"/api/customer/bookings/{paid_booking.reference}")
    assert detail.status_code == 200
    assert detail.json()["role"] == "attendee"


def test_booking_detail_for_the_owner(customer, paid_booking):
    response = client_for(customer).get(
        f"/api/customer/bookings/{paid_booking.reference.lower()}")
    assert response.status_code == 200
    assert response.json()["reference"] == paid_booking.reference


def test_other_people_get_404_not_403(paid_booking, other_customer, instructor, admin_user):
    url = f"/api/customer/bookings/{paid_booking.reference}"
    for user in (other_customer, instructor, admin_user):
        assert_error(client_for(user).get(url), 404, "not_found")
        assert client_for(user).get("/api/customer/bookings").json()["count"] == 0


def test_list_is_paginated(customer):
    for _ in range(26):  # one seat per session for one person
        make_booking(SessionFactory(capacity=40), email=customer.email)
    client = client_for(customer)
    first = client.get("/api/customer/bookings").json()
    assert first["count"] == 26 and len(first["results"]) == 25 and first["next"]
    second = client.get("/api/customer/bookings", {"page": 2}).json()
    assert len(second["results"]) == 1
