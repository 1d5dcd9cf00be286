from datetime import date

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.bookings.models import Attendee
from apps.certificates.models import Certificate
from apps.payments.services import payment_record_manual
from apps.users.models import User
from tests.factories import InstructorFactory, SessionFactory, UserFactory, make_booking


def client_for(user=None, *, token=False):
    client = APIClient()
    if user is not None:
        if token:
            key = Token.objects.get_or_create(user=user)[0].key
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        else:
            client.force_login(user)
    return client


@pytest.fixture
def customer(db):
    return UserFactory(email="buyer@example.com")


@pytest.fixture
def other_customer(db):
    return UserFactory(email="someone.else@example.com")


@pytest.fixture
def instructor(db):
    return InstructorFactory()


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@example.com", role=User.Role.ADMIN, is_staff=True)


@pytest.fixture
def support_user(db):
    return UserFactory(email="support@example.com", role=User.Role.SUPPORT, is_staff=True)


@pytest.fixture
def staff_client(admin_user):
    return client_for(admin_user, token=True)


@pytest.fixture
def paid_booking(customer):
    """customer bought 2 seats (themselves + guest1.buyer@example.com), paid by invoice,
    and holds a certificate for their own seat."""
    booking = make_booking(SessionFactory(capacity=10, price=5000), email=customer.email,
                           seats=2)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    mine = Attendee.objects.get(booking=booking, user=customer)
    Certificate.objects.create(attendee=mine, user=customer, course=booking.session.course,
                               session=booking.session, holder_name=mine.name,
                               issued_on=date(2026, 1, 5), number="CERT-TEST00001")
    return booking


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
