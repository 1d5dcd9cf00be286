"""A discount code through every way in: the booking form (errors that keep what was
typed, the price breakdown), the staff API (400 with a JSON body), the phone booking and
the discount code admin (uses, deactivation, audit)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.bookings.models import Booking
from apps.pricing.models import DiscountCode, GroupDiscount
from apps.users.models import ActivityLog
from tests.api.conftest import assert_error
from tests.api.test_admin_bookings import URL as API_URL
from tests.api.test_admin_bookings import booking_body
from tests.backoffice.test_staff_operations import phone_form
from tests.factories import SessionFactory
from tests.portal.test_views import form_data

from .helpers import book_with_code, make_code

pytestmark = pytest.mark.django_db


def book_url(session):
    return f"/sessions/{session.pk}/book/"


# --- the booking form ----------------------------------------------------------------

@pytest.mark.parametrize(("setup", "message"), [
    ({}, "“NOPE” is not a discount code we know"),
    ({"active": False}, "NOPE is no longer valid"),
    ({"max_uses": 1, "uses": 1}, "NOPE has been used up"),
])
def test_a_bad_code_is_an_error_on_its_field_and_keeps_everything_typed(client, setup,
                                                                       message):
    session = SessionFactory(price=5000)
    if setup:
        make_code("NOPE", **setup)
    data = form_data(session, seats=2, discount_code="nope")
    response = client.post(book_url(session), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["discount_code"]
    assert message in form.errors["discount_code"][0]
    page = response.content.decode()
    for typed in ("Person 1", "person2@example.com", "Lee Logistics", "Wheelchair access",
                  'value="nope"'):
        assert typed in page
    assert not Booking.objects.exists()


def test_inline_check_shows_the_price_breakdown_with_a_valid_code(client):
    session = SessionFactory(price=10000)
    GroupDiscount.objects.create(min_seats=2, percent=10)
    make_code("SAVE5", percent=5)
    response = client.post(book_url(session), form_data(session, seats=2,
                                                        discount_code="save5"),
                           headers={"HX-Request": "true"})
    page = response.content.decode()
    assert "2 × £100.00" in page and "£200.00" in page
    assert "Group price: 10% off from 2 seats" in page and "−£20.00" in page
    assert "Code SAVE5: 5% off" in page and "−£9.00" in page
    assert "£171.00" in page
    assert not Booking.objects.exists()


def test_booking_with_a_code_charges_the_discounted_total_and_shows_it_before_paying(client):
    session = SessionFactory(price=5000)
    code = make_code("TENOFF", kind="fixed", amount=1000, percent=None)
    response = client.post(book_url(session), form_data(session, seats=2,
                                                        discount_code=" tenoff "))
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert (booking.list_amount, booking.total_amount) == (10000, 9000)
    assert DiscountCode.objects.get(pk=code.pk).uses == 1
    page = client.get(response["Location"]).content.decode()
    assert "Code TENOFF: £10.00 off" in page
    assert "Pay £90.00" in page


def test_a_code_and_a_group_price_cost_no_extra_query_per_seat(client):
    session = SessionFactory(price=5000, capacity=40)
    GroupDiscount.objects.create(min_seats=2, percent=10)
    make_code("COUNTED", percent=5)
    runs = iter(range(100))

    def queries(seats, code):
        n = next(runs)
        data = form_data(session, seats=seats, discount_code=code,
                         email=f"buyer{n}@example.com")
        for i in range(1, seats + 1):
            data[f"attendee_{i}_email"] = f"p{i}.{n}@example.com"
        with CaptureQueriesContext(connection) as captured:
            assert client.post(book_url(session), data).status_code == 302
        client.cookies.clear()
        return len(captured)

    queries(2, "")  # warm up (legal documents, caches)
    extra_for_two = queries(2, "counted") - queries(2, "")
    extra_for_six = queries(6, "counted") - queries(6, "")
    assert extra_for_six == extra_for_two <= 4


# --- the staff API -------------------------------------------------------------------

def test_api_booking_with_a_code_reports_its_discounts(staff_client):
    session = SessionFactory(price=5000)
    make_code("API20", percent=20)
    body = {**booking_body(session), "discount_code": "api20"}
    response = staff_client.post(API_URL, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["list_amount"], data["total_amount"]) == (10000, 8000)
    assert data["discounts"] == [{"kind": "code", "code": "API20",
                                  "label": "Code API20: 20% off", "amount": 2000}]
    assert data["payments"][0]["amount"] == 8000


@pytest.mark.parametrize("setup", [None, {"active": False}, {"max_uses": 1, "uses": 1}])
def test_api_bad_code_is_a_400_with_a_json_error(staff_client, setup):
    session = SessionFactory(price=5000)
    if setup is not None:
        make_code("BAD", **setup)
    body = {**booking_body(session), "discount_code": "bad"}
    error = assert_error(staff_client.post(API_URL, body, format="json"), 400,
                         "discount_code_invalid")
    assert "BAD" in error["message"]
    assert not Booking.objects.exists()


def test_api_bad_code_with_an_idempotency_key_can_be_retried_once_the_code_exists(
        staff_client):
    """A 400 is bad input, not an outcome kept for the key: the same request succeeds
    once the code is there."""
    session = SessionFactory(price=5000)
    body = {**booking_body(session), "discount_code": "LATER"}
    assert_error(staff_client.post(API_URL, body, format="json",
                                   HTTP_IDEMPOTENCY_KEY="order-9"), 400, "discount_code_invalid")
    make_code("LATER", percent=10)
    response = staff_client.post(API_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-9")
    assert response.status_code == 201, response.content
    assert response.json()["total_amount"] == 9000


# --- the phone booking and the admin -------------------------------------------------

def test_phone_booking_takes_a_code_and_says_why_a_bad_one_is_refused(admin_client):
    session = SessionFactory(price=5000, capacity=10)
    response = admin_client.post("/admin/bookings/booking/phone/",
                                 phone_form(session, discount_code="missing"))
    assert response.status_code == 200
    assert "is not a discount code we know" in response.context["form"].errors[
        "discount_code"][0]
    make_code("PHONE", percent=50)
    response = admin_client.post("/admin/bookings/booking/phone/",
                                 phone_form(session, discount_code="phone"))
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.total_amount == 5000 and booking.payments.get().amount == 5000


def test_admin_creates_a_code_shows_its_uses_and_deactivates_it(admin_client, admin_user):
    session = SessionFactory(price=5000)
    response = admin_client.post("/admin/pricing/discountcode/add/", {
        "code": "launch", "description": "Launch week", "kind": "percentage",
        "percent": "15", "amount": "", "currency": "GBP", "max_uses": "10",
        "active": "on"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    code = DiscountCode.objects.get()
    assert code.code == "LAUNCH"
    booking = book_with_code(session, code="launch")
    page = admin_client.get(f"/admin/pricing/discountcode/{code.pk}/change/").content.decode()
    assert booking.reference in page and "counted" in page
    admin_client.post("/admin/pricing/discountcode/", {
        "action": "deactivate", "_selected_action": [code.pk]})
    assert not DiscountCode.objects.get(pk=code.pk).active
    assert list(ActivityLog.objects.filter(target_type="pricing.discountcode")
                .order_by("pk").values_list("action", "actor_id")) == [
        ("discount_code.created", admin_user.pk), ("discount_code.deactivated", admin_user.pk)]


def test_admin_refuses_a_percentage_code_without_a_percent(admin_client):
    response = admin_client.post("/admin/pricing/discountcode/add/", {
        "code": "broken", "kind": "percentage", "percent": "", "currency": "GBP",
        "active": "on"})
    assert response.status_code == 200
    assert "whole percent" in str(response.context["adminform"].form.errors)
    assert not DiscountCode.objects.exists()


def test_admin_group_price_rules_are_logged(admin_client):
    response = admin_client.post("/admin/pricing/groupdiscount/add/", {
        "min_seats": "4", "percent": "10", "active": "on"})
    assert response.status_code == 302
    assert ActivityLog.objects.filter(action="group_discount.created").count() == 1
