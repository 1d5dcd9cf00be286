"""Issue #19 item 2: the booking's page is the hub, and every action on it states its
consequence before anything happens."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.backoffice.hub import booking_hub
from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.refunds.models import Refund
from apps.refunds.services import refundable_amount
from apps.users.audit import log_action

pytestmark = pytest.mark.django_db


def hub_url(booking):
    return reverse("admin:bookings_booking_change", args=[booking.pk])


def test_the_booking_page_shows_everything_about_the_booking(admin_client, admin_user,
                                                             paid_booking):
    booking, payment = paid_booking
    admin_user.first_name, admin_user.last_name = "Ada", "Admin"
    admin_user.save()
    log_action("booking.note", actor=admin_user, target=booking, data={"from": "a", "to": "b"})
    html = admin_client.get(hub_url(booking)).content.decode()
    for attendee in booking.attendees.all():
        assert attendee.name in html
    assert "£100.00" in html and "Visa •••• 4242" in html
    assert "Payments, refunds and disputes" in html
    assert "booking.note" in html and "by Ada Admin" in html and "a → b" in html
    assert "Emails" in html
    assert reverse("admin:bookings_booking_refund", args=[booking.pk, payment.pk]) in html
    assert reverse("admin:bookings_booking_cancel", args=[booking.pk]) in html
    assert reverse("admin:bookings_booking_resend", args=[booking.pk]) in html
    assert "14500" not in html and "Minor units" not in html


def test_refunding_everything_says_the_booking_becomes_refunded(admin_client, paid_booking):
    booking, payment = paid_booking
    url = reverse("admin:bookings_booking_refund", args=[booking.pk, payment.pk])
    page = admin_client.post(url, {"amount": "100", "reason": "Goodwill"}).content.decode()
    assert "Refund £100.00 to Visa •••• 4242; the booking becomes refunded" in page
    assert not Refund.objects.exists()


def test_cancel_states_the_refund_before_cancelling(admin_client, paid_booking,
                                                    django_capture_on_commit_callbacks):
    booking, _ = paid_booking
    url = reverse("admin:bookings_booking_cancel", args=[booking.pk])
    page = admin_client.get(url).content.decode()
    assert "£100.00 is refunded to Visa •••• 4242 in full" in page
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"reason": "Customer phoned"}, follow=True)
    assert f"{booking.reference} cancelled; £100.00" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_resend_confirmation_asks_first(admin_client, paid_booking,
                                        django_capture_on_commit_callbacks):
    booking, _ = paid_booking
    url = reverse("admin:bookings_booking_resend", args=[booking.pk])
    before = Communication.objects.filter(booking=booking).count()
    assert "payer@example.com" in admin_client.get(url).content.decode()
    assert Communication.objects.filter(booking=booking).count() == before
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, follow=True)
    assert "sent again to payer@example.com" in response.content.decode()
    assert Communication.objects.filter(booking=booking).count() > before


def test_the_hub_reads_what_is_refundable_as_the_refund_rules_do(paid_booking):
    booking, payment = paid_booking
    Refund.objects.create(payment=payment, amount=1500, initiator=Refund.Initiator.STAFF,
                          status=Refund.Status.PENDING)
    Refund.objects.create(payment=payment, amount=900, initiator=Refund.Initiator.STAFF,
                          status=Refund.Status.FAILED)
    [shown] = booking_hub(booking)["payments"]
    assert shown.refundable == refundable_amount(payment) == 10000 - 1500


def test_the_hub_page_takes_the_same_queries_however_much_happened(admin_client,
                                                                   paid_booking):
    booking, payment = paid_booking

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(hub_url(booking)).status_code == 200
        return len(queries)

    few = count()
    for n in range(5):
        Refund.objects.create(payment=payment, amount=100, initiator=Refund.Initiator.STAFF,
                              status=Refund.Status.FAILED)
        Communication.objects.create(kind=Communication.Kind.BOOKING_CONFIRMATION,
                                     recipient=f"x{n}@example.com", booking=booking,
                                     subject="s", body="b")
        log_action("booking.note", target=booking)
    assert count() == few
