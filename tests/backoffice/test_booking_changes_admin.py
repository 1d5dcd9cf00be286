"""Staff move a booking to another date and cancel one place, each through a page that
states the consequence before anything happens."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.refunds.models import Refund
from tests.factories import SessionFactory
from tests.refunds.test_changes import paid_by_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_dates():
    first = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(days=20))
    cheaper = SessionFactory(course=first.course, price=4000,
                             starts_at=timezone.now() + timedelta(days=30))
    return first, cheaper


def test_staff_review_then_confirm_a_transfer_that_refunds(admin_client, two_dates,
                                                           django_capture_on_commit_callbacks):
    first, cheaper = two_dates
    booking = paid_by_invoice(first)
    url = reverse("admin:bookings_booking_transfer", args=[booking.pk])
    listing = admin_client.get(url).content.decode()
    assert "refund £20.00 to Invoice" in listing
    review = admin_client.get(url, {"session": cheaper.pk}).content.decode()
    start = timezone.localtime(cheaper.starts_at)
    assert f"Move {booking.reference} to {start:%a} {start.day} {start:%b}" in review
    assert "refund £20.00" in review
    assert Booking.objects.get(pk=booking.pk).session_id == first.pk  # nothing yet

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"session": cheaper.pk, "difference": "-2000"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.session_id == cheaper.pk and booking.total_amount == 8000
    assert list(Refund.objects.values_list("amount", "initiator")) == [(2000, "staff")]


def test_staff_see_what_a_dearer_date_charges(admin_client, two_dates):
    first, cheaper = two_dates
    booking = paid_by_invoice(cheaper)
    url = reverse("admin:bookings_booking_transfer", args=[booking.pk])
    review = admin_client.get(url, {"session": first.pk}).content.decode()
    assert "charge £20.00 more" in review
    admin_client.post(url, {"session": first.pk, "difference": "2000"})
    page = admin_client.get(url).content.decode()
    assert "£20.00 still owed" in page


def test_staff_cancel_one_place_after_seeing_the_refund(admin_client, two_dates,
                                                        django_capture_on_commit_callbacks):
    first, _ = two_dates
    booking = paid_by_invoice(first, seats=3)
    guest = booking.attendees.get(email="guest1.pat@example.com")
    change_page = admin_client.get(reverse("admin:bookings_booking_change",
                                           args=[booking.pk])).content.decode()
    url = reverse("admin:bookings_booking_cancel_attendee", args=[guest.pk])
    assert url in change_page
    page = admin_client.get(url).content.decode()
    assert f"Cancel {guest.name}&#x27;s place on {booking.reference}; refund £50.00 to " \
           "Invoice" in page
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, {"amount": "5000"}).status_code == 302
    assert Attendee.all_objects.get(pk=guest.pk).cancelled_at is not None
    booking.refresh_from_db()
    assert (booking.seats, booking.total_amount) == (2, 10000)


def test_the_last_place_points_to_cancelling_the_booking(admin_client, two_dates):
    first, _ = two_dates
    booking = paid_by_invoice(first, seats=1)
    (only,) = booking.attendees.all()
    url = reverse("admin:bookings_booking_cancel_attendee", args=[only.pk])
    page = admin_client.post(url, {"amount": "5000"}).content.decode()
    assert "cancel the whole booking instead" in page
    assert Attendee.objects.filter(pk=only.pk).exists()
