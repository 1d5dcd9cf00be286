import pytest
from django.db import connection

from apps.bookings.models import Booking
from apps.payments.models import Payment
from apps.sessions.models import CourseSession
from apps.users.models import User
from tests.api.conftest import assert_error, client_for
from tests.bookings.test_concurrency import run_in_threads
from tests.factories import SessionFactory, UserFactory, make_booking

URL = "/api/admin/bookings"


def booking_body(session, *, payment="invoice", email="buyer@acme.example", seats=2):
    return {
        "session_id": session.pk,
        "purchaser": {"email": email, "first_name": "Ada", "last_name": "Lovelace",
                      "company_name": "Acme Ltd"},
        "attendees": [{"name": f"Person {n}", "email": f"p{n}.{email}"} for n in range(seats)],
        "payment": payment,
    }


@pytest.mark.django_db
def test_invoice_booking_is_created_and_paid(staff_client):
    session = SessionFactory(capacity=10, price=5000)
    response = staff_client.post(URL, booking_body(session), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    booking = Booking.objects.get(reference=body["reference"])
    assert booking.status == body["status"] == "paid"
    assert body["payment_url"] is None
    assert body["total_amount"] == 10000 and body["seats"] == 2
    assert body["purchaser"]["email"] == "buyer@acme.example"
    assert body["purchaser"]["company_name"] == "Acme Ltd"
    assert [p["method"] for p in body["payments"]] == ["invoice"]
    assert body["payments"][0]["status"] == "succeeded"
    session.refresh_from_db()
    assert session.seats_taken == 2
    assert User.objects.get(email="buyer@acme.example").total_bookings == 1


@pytest.mark.django_db
def test_card_booking_stays_pending_with_its_payment_page(staff_client, settings):
    session = SessionFactory(capacity=10)
    response = staff_client.post(URL, booking_body(session, payment="card"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["hold_expires_at"]
    assert body["payment_url"] == f"{settings.SITE_URL}/bookings/{body['reference']}/"
    assert not Payment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("mutate, field", [
    (lambda b: b.pop("session_id"), "session_id"),
    (lambda b: b.update(session_id=999999), "session_id"),
    (lambda b: b.update(session_id="x"), "session_id"),
    (lambda b: b.update(attendees=[]), "attendees"),
    (lambda b: b["attendees"][1].update(email="nope"), "attendees.1.email"),
    (lambda b: b["purchaser"].pop("email"), "purchaser.email"),
    (lambda b: b.update(payment="cash"), "payment"),
])
def test_validation_errors_name_their_fields(staff_client, mutate, field):
    body = booking_body(SessionFactory())
    mutate(body)
    error = assert_error(staff_client.post(URL, body, format="json"), 400, "invalid")
    assert field in error["fields"], error
    assert not Booking.objects.exists()


@pytest.mark.django_db
def test_service_rules_come_back_as_400(staff_client):
    session = SessionFactory()
    body = booking_body(session)
    body["attendees"][1]["email"] = body["attendees"][0]["email"].upper()
    error = assert_error(staff_client.post(URL, body, format="json"), 400)
    assert "own email" in error["message"]


@pytest.mark.django_db
def test_malformed_json_is_a_400(staff_client):
    response = staff_client.post(URL, "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


@pytest.mark.django_db
def test_sold_out_is_409(staff_client):
    session = SessionFactory(capacity=2)
    make_booking(session, seats=2)
    error = assert_error(staff_client.post(URL, booking_body(session, seats=1), format="json"),
                         409, "sold_out")
    assert "sold out" in error["message"]


@pytest.mark.django_db
def test_method_not_allowed_is_405_json(staff_client):
    assert_error(staff_client.get(URL), 405, "method_not_allowed")


@pytest.mark.django_db
def test_idempotency_replay_returns_the_first_response_and_creates_nothing(staff_client):
    session = SessionFactory(capacity=10)
    body = booking_body(session)
    first = staff_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    again = staff_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1 and Payment.objects.count() == 1
    session.refresh_from_db()
    assert session.seats_taken == 2


@pytest.mark.django_db
def test_same_key_other_body_is_422(staff_client):
    session = SessionFactory(capacity=10)
    staff_client.post(URL, booking_body(session), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = booking_body(session, email="other@acme.example")
    error = assert_error(staff_client.post(URL, other, format="json",
                                           HTTP_IDEMPOTENCY_KEY="k-2"),
                         422, "idempotency_key_reused")
    assert "different request body" in error["message"]
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_replay_still_safe_when_the_cache_forgot(staff_client):
    from django.core.cache import cache

    session = SessionFactory(capacity=10)
    body = booking_body(session, payment="card")
    first = staff_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3").json()
    cache.clear()
    again = staff_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert again.status_code == 201 and again.json()["reference"] == first["reference"]
    cache.clear()
    other = booking_body(session, email="other@acme.example", payment="card")
    assert_error(staff_client.post(URL, other, format="json", HTTP_IDEMPOTENCY_KEY="k-3"), 422)
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_staff_user_and_validated(staff_client, support_user):
    session = SessionFactory(capacity=10)
    staff_client.post(URL, booking_body(session), format="json", HTTP_IDEMPOTENCY_KEY="same")
    support = client_for(support_user, token=True)
    # Another body under the same key: a 422 if keys were shared between staff users.
    response = support.post(URL, booking_body(session, email="other@acme.example"),
                            format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert response.status_code == 201
    assert Booking.objects.count() == 2
    assert_error(support.post(URL, booking_body(session), format="json",
                              HTTP_IDEMPOTENCY_KEY="x" * 300), 400, "invalid_idempotency_key")


@pytest.mark.django_db
def test_a_validation_error_does_not_burn_the_key(staff_client):
    session = SessionFactory(capacity=10)
    bad = booking_body(session)
    bad["payment"] = "cash"
    assert staff_client.post(URL, bad, format="json",
                             HTTP_IDEMPOTENCY_KEY="k-4").status_code == 400
    good = staff_client.post(URL, booking_body(session), format="json",
                             HTTP_IDEMPOTENCY_KEY="k-4")
    assert good.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_requests_for_the_last_five_seats(settings):
    assert connection.vendor == "postgresql"
    admin = UserFactory(email="ops@example.com", role=User.Role.ADMIN, is_staff=True)
    client_for(admin, token=True)  # creates the token before the race
    session = SessionFactory(capacity=12)
    make_booking(session, email="early@example.com", seats=7)

    def request(index):
        client = client_for(admin, token=True)
        response = client.post(URL, booking_body(session, email=f"racer{index}@example.com",
                                                 seats=1), format="json")
        return response.status_code, response.json()

    results = run_in_threads(30, request)
    assert all(outcome == "ok" for outcome, _ in results), results
    statuses = sorted(value[0] for _, value in results)
    assert statuses.count(201) == 5, statuses
    assert statuses.count(409) == 25, statuses
    assert all(value[1]["error"]["code"] == "sold_out"
               for _, value in results if value[0] == 409)
    session = CourseSession.objects.get(pk=session.pk)
    assert session.seats_taken == 12 == session.capacity
    assert Booking.objects.filter(session=session).count() == 6
    assert Booking.objects.filter(session=session, status="paid").count() == 5


@pytest.mark.django_db(transaction=True)
def test_parallel_replays_of_one_key_create_one_booking():
    admin = UserFactory(email="ops2@example.com", role=User.Role.ADMIN, is_staff=True)
    client_for(admin, token=True)
    session = SessionFactory(capacity=20)
    body = booking_body(session, seats=2)

    def request(index):
        response = client_for(admin, token=True).post(URL, body, format="json",
                                                       HTTP_IDEMPOTENCY_KEY="race-key")
        return response.status_code, response.json()

    results = run_in_threads(8, request)
    assert all(outcome == "ok" for outcome, _ in results), results
    assert {value[0] for _, value in results} == {201}
    assert len({value[1]["reference"] for _, value in results}) == 1
    assert Booking.objects.filter(session=session).count() == 1
    assert Payment.objects.filter(booking__session=session).count() == 1
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 2


@pytest.mark.django_db
def test_a_customers_own_pending_booking_is_never_taken_over_by_an_invoice_booking(
        staff_client):
    """The same people already wait to pay on the website: the staff API must not return
    that booking as its own, nor turn its card checkout into a paid invoice."""
    session = SessionFactory(capacity=10, price=5000)
    body = booking_body(session, payment="card", seats=1)
    web = staff_client.post(URL, body, format="json",
                            headers={"Idempotency-Key": "web-checkout-1"})
    assert web.status_code == 201, web.content
    pending = Booking.objects.get(reference=web.json()["reference"])

    invoice = staff_client.post(URL, {**body, "payment": "invoice"}, format="json",
                                headers={"Idempotency-Key": "staff-invoice-1"})

    assert invoice.status_code == 409, invoice.content
    assert invoice.json()["error"]["code"] == "pending_booking_exists"
    assert pending.reference in invoice.json()["error"]["message"]
    pending.refresh_from_db()
    assert pending.status == Booking.Status.PENDING
    assert not Payment.objects.filter(booking=pending, method="invoice").exists()
    session.refresh_from_db()
    assert session.seats_taken == 1
