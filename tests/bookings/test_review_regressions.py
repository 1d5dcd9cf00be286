"""Regressions for bugs found in review."""

import pytest

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.refunds.models import Refund
from apps.refunds.services import refund_create, refund_mark_failed, refund_mark_succeeded
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_a_free_session_booking_is_confirmed_at_once():
    booking = make_booking(SessionFactory(price=0), email="free@example.com", seats=2)
    booking.refresh_from_db()
    assert booking.status == "paid" and booking.total_amount == 0
    assert not Payment.objects.exists()
    assert Communication.objects.filter(kind="booking_confirmation").count() == 2
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_bookings == 1 and booking.purchaser.total_spent == 0


def test_a_stale_success_never_revives_a_failed_refund():
    from apps.payments.services import payment_record_manual

    booking = make_booking(SessionFactory(price=5000))
    payment = payment_record_manual(booking=booking, actor=None)
    Payment.objects.filter(pk=payment.pk).update(method="card")  # keep it pending
    refund = refund_create(payment=Payment.objects.get(pk=payment.pk), amount=2000,
                           initiator="staff")
    refund_mark_failed(refund_id=refund.pk, reason="expired_card")
    refund_mark_succeeded(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == "failed"
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 5000
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("url", [
    "/bookings/%00x/", "/certificates/verify/%00/", "/portal/bookings/%00/",
    "/api/customer/bookings/%00",
])
def test_nul_bytes_in_identifiers_are_a_400_not_a_500(client, url):
    """A NUL anywhere is refused for the whole site before any view (#21.1)."""
    from apps.users.models import User

    client.force_login(User.objects.create_user(email="probe@example.com"))
    assert client.get(url).status_code == 400


def test_an_unknown_confirmation_token_is_a_clear_failure_not_a_500(client, fake_stripe):
    booking = make_booking(SessionFactory(), email="payer@example.com")
    client.force_login(booking.purchaser)
    response = client.post(f"/bookings/{booking.reference}/pay/",
                           {"confirmation_token": "ctoken_nope"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed" and "could not be used" in body["message"]
    assert Booking.objects.get(pk=booking.pk).status == "pending"
