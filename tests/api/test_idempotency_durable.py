"""Issue #28.1–#28.4: Idempotency-Key kept in the database for as long as it is honoured;
a different body is refused whenever the key is known; the kept record holds no personal
data and erasure reaches it; refund currency checked; the schema documents the rules."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.bookings.models import Booking, IdempotencyKey
from apps.operations.erasure import user_anonymise
from apps.payments.models import Payment
from apps.refunds.models import Refund
from tests.api.conftest import assert_error, client_for
from tests.api.test_admin_bookings import URL, booking_body
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def _post(client, body, key):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_once_the_cache_is_gone_another_payment_method_is_refused(staff_client):
    """The report: a card booking with exp-1, then the same key with payment "invoice"
    answered 201 and marked the pending card booking paid."""
    session = SessionFactory(capacity=10)
    first = _post(staff_client, booking_body(session, payment="card"), "exp-1")
    assert first.status_code == 201 and first.json()["status"] == "pending"
    cache.clear()  # expiry, eviction or a Redis restart
    assert_error(_post(staff_client, booking_body(session, payment="invoice"), "exp-1"),
                 422, "idempotency_key_reused")
    booking = Booking.objects.get()
    assert booking.status == "pending" and not Payment.objects.exists()


@pytest.mark.parametrize("change", ["attendee name", "special requirements"])
def test_other_names_or_requirements_with_a_known_key_are_refused(staff_client, change):
    session = SessionFactory(capacity=10)
    body = booking_body(session)
    assert _post(staff_client, body, "k-names").status_code == 201
    cache.clear()
    changed = booking_body(session)
    if change == "attendee name":
        changed["attendees"][0]["name"] = "Someone Else"
    else:
        changed["special_requirements"] = "Step-free access"
    assert_error(_post(staff_client, changed, "k-names"), 422, "idempotency_key_reused")
    booking = Booking.objects.get()
    assert "Someone Else" not in [a.name for a in booking.attendees.all()]
    assert booking.special_requirements == ""


def test_the_key_is_kept_in_the_database_without_personal_data(staff_client):
    session = SessionFactory(capacity=10)
    response = _post(staff_client, booking_body(session), "k-db")
    record = IdempotencyKey.objects.get()
    assert record.booking.reference == response.json()["reference"]
    assert record.response_status == 201 and len(record.request_hash) == 64
    stored = repr([getattr(record, f.attname) for f in IdempotencyKey._meta.fields])
    for personal in ("Ada", "Lovelace", "acme.example", "Acme", "Person 0"):
        assert personal not in stored


def test_after_its_lifetime_a_key_is_retired_for_any_body(staff_client):
    session = SessionFactory(capacity=10)
    body = booking_body(session, payment="card")
    assert _post(staff_client, body, "k-old").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert_error(_post(staff_client, body, "k-old"), 422, "idempotency_key_retired")
    assert_error(_post(staff_client, booking_body(session, payment="invoice"), "k-old"),
                 422, "idempotency_key_retired")
    assert Booking.objects.get().status == "pending"


def test_a_refusal_is_replayed_for_the_keys_lifetime(staff_client):
    """Decided (#28.4): a 409 sold out is replayed even after seats free up."""
    session = SessionFactory(capacity=1)
    body = booking_body(session, seats=2)
    first = _post(staff_client, body, "k-409")
    assert_error(first, 409, "sold_out")
    session.capacity = 5
    session.save(update_fields=["capacity"])
    again = _post(staff_client, body, "k-409")
    assert again.status_code == 409 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not Booking.objects.exists()


def test_erasure_reaches_the_key_and_replay_gives_back_no_personal_data(staff_client):
    session = SessionFactory(capacity=10)
    body = booking_body(session)
    assert _post(staff_client, body, "k-erase").status_code == 201
    purchaser = Booking.objects.get().purchaser
    user_anonymise(user=purchaser)
    replay = _post(staff_client, body, "k-erase")
    assert_error(replay, 422, "idempotency_key_retired")
    text = replay.content.decode()
    assert "Ada" not in text and "acme.example" not in text
    assert IdempotencyKey.objects.get().request_hash == ""


def test_a_key_from_before_keys_were_kept_is_not_rewritten(staff_client, admin_user):
    """A booking made with the key's token but no stored key (made before this change)."""
    from apps.api import idempotency

    session = SessionFactory(capacity=10)
    assert _post(staff_client, booking_body(session, payment="card"), "k-legacy") \
        .status_code == 201
    IdempotencyKey.objects.all().delete()
    token = idempotency.submission_token(user_id=admin_user.pk, key="k-legacy")
    assert Booking.objects.filter(submission_token=token).exists()
    assert_error(_post(staff_client, booking_body(session, payment="invoice"), "k-legacy"),
                 422, "idempotency_key_retired")
    assert Booking.objects.get().status == "pending"


def test_refund_in_another_currency_is_refused(staff_client, paid_booking):
    payment = Payment.objects.get(booking=paid_booking)
    url = f"/api/admin/payments/{payment.pk}/refunds"
    error = assert_error(staff_client.post(url, {"amount": 100, "currency": "EUR"},
                                           format="json"), 400, "invalid")
    assert "currency" in error["fields"] and "GBP" in error["fields"]["currency"][0]
    assert not Refund.objects.exists()
    ok = staff_client.post(url, {"amount": 100, "currency": "gbp"}, format="json")
    assert ok.status_code == 201 and ok.json()["currency"] == "GBP"


def test_schema_documents_the_keys_lifetime_limits_and_replay():
    spec = client_for().get("/api/schema/?format=json").json()
    create = spec["paths"]["/api/admin/bookings"]["post"]
    [key] = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    text = key["description"]
    for promise in ("24 hours", "255", "Idempotent-Replayed", "409", "422",
                    "idempotency_key_retired", "no names or email addresses"):
        assert promise in text, promise


@pytest.mark.django_db
def test_a_remembered_refusal_names_nobody(staff_client):
    """A refusal kept for the key's lifetime says what happened, not to whom."""
    from apps.bookings.models import IdempotencyKey
    from tests.factories import SessionFactory, make_booking

    session = SessionFactory(capacity=10, price=5000)
    make_booking(session, email="holder@example.com", seats=1)
    attendee = session.bookings.get().attendees.get()
    body = {"session_id": session.pk, "payment": "invoice",
            "purchaser": {"email": "other@example.com", "first_name": "Other",
                          "last_name": "Buyer", "company_name": ""},
            "attendees": [{"name": attendee.name, "email": attendee.email}]}

    refused = staff_client.post("/api/admin/bookings", body, format="json",
                                headers={"Idempotency-Key": "names-nobody-1"})

    assert refused.status_code == 409, refused.content
    stored = IdempotencyKey.objects.get().error
    assert stored["code"] == "already_booked"
    assert attendee.email not in str(stored) and attendee.name not in str(stored)
