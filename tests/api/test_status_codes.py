"""Issue #21.4: conflicts are 409 and bad input 400, and the OpenAPI schema says what the
API does (Idempotency-Key rules, date order, integer pages, 414)."""

import pytest

from apps.payments.models import Payment
from apps.refunds.models import Refund
from tests.api.conftest import assert_error, client_for
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_refund_refused_because_another_got_there_first_is_409(staff_client, paid_booking):
    payment = Payment.objects.get(booking=paid_booking)
    url = f"/api/admin/payments/{payment.pk}/refunds"
    assert staff_client.post(url, {"amount": 8000}, format="json").status_code == 201
    error = assert_error(staff_client.post(url, {"amount": 5000}, format="json"), 409,
                         "too_much")
    assert "At most £20.00 can still be refunded" in error["message"]
    # More than the payment ever was is bad input, whatever happened before: 400.
    assert_error(staff_client.post(url, {"amount": 10001}, format="json"), 400, "too_much")
    assert Refund.objects.count() == 1


def test_refund_of_an_unpaid_payment_is_a_409(staff_client):
    pending = make_booking(SessionFactory(), email="later@example.com")
    payment = Payment.objects.create(booking=pending, user=pending.purchaser,
                                     amount=pending.total_amount)
    assert_error(staff_client.post(f"/api/admin/payments/{payment.pk}/refunds",
                                   {"amount": 100}, format="json"), 409, "not_refundable")


@pytest.mark.parametrize("query, field", [
    ("date_to=", "date_to"),
    ("date_from=&date_to=2030-01-01", "date_from"),
    ("location=", "location"),
    ("location=1&location=2", "location"),
    ("date_from=2030-02-01&date_to=2030-01-31", "date_to"),
])
def test_session_filters_refuse_what_the_schema_forbids(query, field):
    error = assert_error(client_for().get(f"/api/sessions/?{query}"), 400, "invalid")
    assert field in error["fields"]


@pytest.mark.parametrize("page", ["1.0", "0", "-1", "abc", ""])
def test_page_must_be_a_whole_number(customer, page):
    error = assert_error(client_for(customer).get(f"/api/customer/bookings?page={page}"),
                         400, "invalid")
    assert "page" in error["fields"]
    assert client_for(customer).get("/api/customer/bookings?page=1").status_code == 200


@pytest.mark.parametrize("key", [" padded ", "with space", "x" * 256, "é"])
def test_idempotency_key_outside_its_rules_is_a_400(staff_client, key):
    response = staff_client.post("/api/admin/bookings", {}, format="json",
                                 headers={"Idempotency-Key": key.encode().decode("latin-1")})
    assert_error(response, 400)


def test_schema_describes_the_rules():
    spec = client_for().get("/api/schema/?format=json").json()
    create = spec["paths"]["/api/admin/bookings"]["post"]
    [key] = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 255,
                             "pattern": "^[!-~]+$"}
    sessions = spec["paths"]["/api/sessions/"]["get"]
    [date_to] = [p for p in sessions["parameters"] if p["name"] == "date_to"]
    assert "not before date_from" in date_to["description"]
    bookings = spec["paths"]["/api/customer/bookings"]["get"]
    [page] = [p for p in bookings["parameters"] if p["name"] == "page"]
    assert page["schema"]["type"] == "integer" and page["schema"]["minimum"] == 1
    for methods in spec["paths"].values():
        for operation in methods.values():
            assert {"400", "414"} <= set(operation["responses"])


def test_unknown_api_path_with_a_newline_is_a_json_404():
    assert_error(client_for().get("/api/sessions/1%0A2/"), 404, "not_found")
