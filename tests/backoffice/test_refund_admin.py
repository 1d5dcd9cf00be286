import pytest

from apps.refunds.models import Refund
from tests.refunds.conftest import stripe_refunds

pytestmark = pytest.mark.django_db


def test_staff_refund_part_of_a_payment_from_admin(admin_client, paid_booking,
                                                   django_capture_on_commit_callbacks):
    booking, payment = paid_booking
    change = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
    assert f"/admin/payments/payment/{payment.pk}/refund/" in change
    # The payment's refund link leads to the booking's refund step, with its confirmation.
    url = f"/admin/bookings/booking/{booking.pk}/refund/{payment.pk}/"
    assert admin_client.get(f"/admin/payments/payment/{payment.pk}/refund/").url == url
    form = admin_client.get(url).content.decode()
    assert "Still refundable: <strong>£100.00</strong>" in form

    too_much = admin_client.post(url, {"amount": "100.01", "reason": "x"})
    assert "At most £100.00 can still be refunded" in too_much.content.decode()
    confirm = admin_client.post(url, {"amount": "25.50", "reason": "Arrived late"})
    assert "Refund £25.50 to Visa •••• 4242; the booking stays paid." in \
        confirm.content.decode()
    assert not Refund.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"amount": "25.50", "reason": "Arrived late",
                                           "confirmed": "yes"}, follow=True)
    assert "Refund of £25.50 sent to Stripe" in response.content.decode()
    refund = Refund.objects.get()
    assert (refund.amount, refund.initiator, refund.reason) == (2550, "staff", "Arrived late")
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert [r["amount"] for r in stripe_refunds(payment)] == [2550]
    payment.user.refresh_from_db()
    assert payment.user.total_spent == 10000 - 2550


def test_booking_admin_cancel_with_full_refund(admin_client, paid_booking,
                                               django_capture_on_commit_callbacks):
    booking, payment = paid_booking
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/bookings/booking/", {
            "action": "cancel_with_full_refund", "_selected_action": [booking.pk]}, follow=True)
    # The message reads the ledger when the page is drawn: in this test the refund is sent
    # to Stripe only when the captured commit callbacks run, after the response.
    assert "1 booking cancelled; £100.00 pending at Stripe (on its way)." in \
        response.content.decode()
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert [r["amount"] for r in stripe_refunds(payment)] == [10000]


def test_staff_retry_a_refund_stuck_pending_from_the_refunds_list(
        admin_client, paid_booking, django_capture_on_commit_callbacks):
    """Issue #23 item 3: the broker was down, the refund never reached Stripe."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.refunds.services import refund_create

    _, payment = paid_booking
    refund = refund_create(payment=payment, amount=2000, initiator="staff", reason="x")
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(hours=3))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/refunds/refund/", {
            "action": "retry_failed", "_selected_action": [refund.pk]}, follow=True)
    assert "1 refund sent again." in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert Refund.objects.count() == 1 and len(stripe_refunds(payment)) == 1
