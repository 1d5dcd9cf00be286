"""One service for staff bookings: the admin phone form and POST /api/admin/bookings
leave the same booking, payment, ledger, audit trail and emails behind."""

import pytest
from django.test import Client

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment, PaymentEvent
from apps.users.models import ActivityLog, User
from tests.api.conftest import client_for
from tests.factories import SessionFactory, UserFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@example.com", role=User.Role.ADMIN, is_staff=True,
                       is_superuser=True)


def by_admin(staff, session, payment):
    client = Client()
    client.force_login(staff)
    response = client.post("/admin/bookings/booking/phone/", {
        "session": session.pk, "email": "buyer@example.com", "first_name": "Ada",
        "last_name": "Lovelace", "company_name": "Acme Ltd", "phone": "",
        "attendees": "Ada Lovelace, buyer@example.com\nCharles Babbage, cb@example.com",
        "special_requirements": "", "payment": "invoice" if payment == "invoice" else "link"})
    assert response.status_code == 302, response.content
    return Booking.objects.get(session=session)


def by_api(staff, session, payment):
    response = client_for(staff, token=True).post("/api/admin/bookings", {
        "session_id": session.pk,
        "purchaser": {"email": "buyer@example.com", "first_name": "Ada",
                      "last_name": "Lovelace", "company_name": "Acme Ltd"},
        "attendees": [{"name": "Ada Lovelace", "email": "buyer@example.com"},
                      {"name": "Charles Babbage", "email": "cb@example.com"}],
        "payment": payment}, format="json")
    assert response.status_code == 201, response.content
    return Booking.objects.get(session=session)


def outcome(booking):
    """Everything a staff booking leaves behind, without ids and times."""
    booking.refresh_from_db()
    payments = list(Payment.objects.filter(booking=booking).order_by("attempt"))
    targets = [("booking", str(booking.pk))] + [("payment", str(p.pk)) for p in payments]
    audit = sorted(
        (a.target_type, a.action, a.actor_id, a.user_id)
        for a in ActivityLog.objects.all()
        if (a.target_type.rsplit(".", 1)[-1], a.target_id) in targets)
    return {
        "booking": (booking.status, booking.seats, booking.total_amount, booking.currency,
                    booking.company_name, booking.purchaser.email,
                    booking.terms_accepted_at is None),
        "attendees": sorted((a.name, a.email) for a in booking.attendees.all()),
        "payments": [(p.method, p.status, p.amount, p.currency) for p in payments],
        "ledger": [(e.kind, e.data) for e in PaymentEvent.objects.filter(
            payment__booking=booking).order_by("created_at", "id")],
        "audit": audit,
        "emails": sorted(Communication.objects.filter(booking=booking)
                         .values_list("kind", "recipient")),
    }


@pytest.mark.parametrize("payment", ["invoice", "card"])
def test_admin_and_api_leave_the_same_outcome(staff, payment):
    via_admin = outcome(by_admin(staff, SessionFactory(capacity=5, price=5000), payment))
    spent_after_admin = User.objects.get(email="buyer@example.com").total_spent
    via_api = outcome(by_api(staff, SessionFactory(capacity=5, price=5000), payment))
    spent_after_api = User.objects.get(email="buyer@example.com").total_spent
    assert via_admin == via_api
    assert via_admin["audit"], "the staff booking is audited"
    if payment == "invoice":
        assert via_admin["booking"][0] == "paid"
        assert via_admin["payments"] == [("invoice", "succeeded", 10000, "GBP")]
        assert spent_after_admin == 10000 and spent_after_api == 20000
    else:
        assert via_admin["booking"][0] == "pending" and via_admin["payments"] == []
        assert ("payment_link", "buyer@example.com") in via_admin["emails"]
        assert spent_after_api == 0


@pytest.mark.parametrize("entry", [by_admin, by_api])
def test_neither_entry_point_takes_over_a_customers_pending_web_booking(staff, entry):
    session = SessionFactory(capacity=5, price=5000)
    pending = make_booking(session, email="buyer@example.com")
    pending.attendees.all().delete()
    # The web booking names the same two people as the staff request.
    from apps.bookings.models import Attendee

    for name, email in [("Ada Lovelace", "buyer@example.com"),
                        ("Charles Babbage", "cb@example.com")]:
        Attendee.objects.create(booking=pending, name=name, email=email,
                                user=User.objects.get_or_create(email=email)[0])
    Booking.objects.filter(pk=pending.pk).update(seats=2)
    if entry is by_admin:
        client = Client()
        client.force_login(staff)
        response = client.post("/admin/bookings/booking/phone/", {
            "session": session.pk, "email": "buyer@example.com", "first_name": "Ada",
            "last_name": "Lovelace", "company_name": "", "phone": "",
            "attendees": "Ada Lovelace, buyer@example.com\nCharles Babbage, cb@example.com",
            "special_requirements": "", "payment": "invoice"})
        assert response.status_code == 200
        assert pending.reference in response.content.decode()
    else:
        response = client_for(staff, token=True).post("/api/admin/bookings", {
            "session_id": session.pk,
            "purchaser": {"email": "buyer@example.com", "first_name": "Ada",
                          "last_name": "Lovelace"},
            "attendees": [{"name": "Ada Lovelace", "email": "buyer@example.com"},
                          {"name": "Charles Babbage", "email": "cb@example.com"}],
            "payment": "invoice"}, format="json")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "pending_booking_exists"
    pending.refresh_from_db()
    assert pending.status == Booking.Status.PENDING
    assert not Payment.objects.filter(booking=pending).exists()
