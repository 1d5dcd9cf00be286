import pytest

from apps.bookings.models import Booking
from apps.payments.models import Payment
from apps.refunds.models import Refund
from tests.api.conftest import assert_error, client_for
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

STAFF_URLS = [
    ("get", "/api/admin/users/"),
    ("get", "/api/admin/users/1"),
    ("post", "/api/admin/bookings"),
    ("post", "/api/admin/payments/1/refunds"),
]


@pytest.mark.parametrize("method, url", STAFF_URLS)
def test_permission_matrix(method, url, customer, other_customer, instructor):
    assert_error(getattr(client_for(), method)(url, {}, format="json"), 401,
                 "not_authenticated")
    for user in (customer, other_customer, instructor):
        for token in (False, True):
            response = getattr(client_for(user, token=token), method)(url, {}, format="json")
            assert_error(response, 403, "permission_denied")


def test_staff_without_admin_or_support_role_is_refused(db):
    from tests.factories import UserFactory

    staff_customer_role = UserFactory(is_staff=True)  # staff flag but customer role
    assert_error(client_for(staff_customer_role).get("/api/admin/users/"), 403)


def test_bad_token_is_401():
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/admin/users/")
    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Token"


def test_user_search_by_email(staff_client, customer, other_customer, support_user):
    response = staff_client.get("/api/admin/users/", {"email": "BUYER@"})
    assert response.status_code == 200
    body = response.json()
    assert [u["email"] for u in body["results"]] == ["buyer@example.com"]
    everyone = staff_client.get("/api/admin/users/").json()
    assert everyone["count"] >= 4
    # support staff may search too, with a session
    assert client_for(support_user).get("/api/admin/users/").status_code == 200


def test_user_detail_has_stats_bookings_payments_activity(staff_client, customer,
                                                          paid_booking):
    from apps.users.models import UserNote

    UserNote.objects.create(user=customer, text="Call before 10am")
    response = staff_client.get(f"/api/admin/users/{customer.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == customer.email
    assert body["stats"]["bookings_purchased"] == 1
    assert body["stats"]["total_spent"] == 10000
    assert body["stats"]["certificates"] == 1
    assert body["recent_bookings"][0]["reference"] == paid_booking.reference
    assert body["payments"][0]["status"] == "succeeded"
    assert any(entry["action"] == "booking.created" for entry in body["activity"])
    assert [note["text"] for note in body["notes"]] == ["Call before 10am"]


def test_user_detail_404(staff_client):
    assert_error(staff_client.get("/api/admin/users/987654"), 404, "not_found")


def test_refund_happy_path(staff_client, paid_booking):
    payment = Payment.objects.get(booking=paid_booking)
    response = staff_client.post(f"/api/admin/payments/{payment.pk}/refunds",
                                 {"amount": 2500, "reason": "Goodwill"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == 2500 and body["status"] == "succeeded"  # invoice: immediate
    assert body["payment_status"] == "partially_refunded"
    assert body["refundable_left"] == 7500
    refund = Refund.objects.get()
    assert refund.initiator == "staff" and refund.reason == "Goodwill"


@pytest.mark.parametrize("body, field", [
    ({}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"),
    ({"amount": "lots"}, "amount"),
    ({"amount": 100, "reason": "x" * 501}, "reason"),
])
def test_refund_validation(staff_client, paid_booking, body, field):
    payment = Payment.objects.get(booking=paid_booking)
    error = assert_error(staff_client.post(f"/api/admin/payments/{payment.pk}/refunds", body,
                                           format="json"), 400, "invalid")
    assert field in error["fields"]


def test_refund_too_much_and_unpaid_are_refused_with_messages(staff_client, paid_booking):
    payment = Payment.objects.get(booking=paid_booking)
    error = assert_error(staff_client.post(f"/api/admin/payments/{payment.pk}/refunds",
                                           {"amount": 10001}, format="json"), 400, "too_much")
    assert "At most" in error["message"]
    assert not Refund.objects.exists()

    from tests.factories import make_booking

    pending = make_booking(SessionFactory(), email="later@example.com")
    open_payment = Payment.objects.create(booking=pending, user=pending.purchaser,
                                          amount=pending.total_amount)
    error = assert_error(staff_client.post(f"/api/admin/payments/{open_payment.pk}/refunds",
                                           {"amount": 100}, format="json"), 409)
    assert "succeeded" in error["message"]
    assert_error(staff_client.post("/api/admin/payments/999999/refunds", {"amount": 1},
                                   format="json"), 404, "not_found")
    assert Booking.objects.get(pk=pending.pk).status == "pending"
