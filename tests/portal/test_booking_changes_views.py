"""The purchaser's "Change date" and "Cancel this place" pages: consequence first, then
a confirmation; only the purchaser."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.refunds.models import Refund
from tests.factories import SessionFactory
from tests.refunds.test_changes import paid_by_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking_and_dates():
    first = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(days=20))
    dearer = SessionFactory(course=first.course, price=6000,
                            starts_at=timezone.now() + timedelta(days=30))
    return paid_by_invoice(first, seats=3), first, dearer


def test_the_purchaser_changes_the_date_after_seeing_the_difference(
        client, booking_and_dates, django_capture_on_commit_callbacks):
    booking, first, dearer = booking_and_dates
    client.force_login(booking.purchaser)
    page = client.get(f"/portal/bookings/{booking.reference}/").content.decode()
    assert "Change date" in page and page.count("Cancel this place") == 3
    url = f"/portal/bookings/{booking.reference}/change-date/"
    listing = client.get(url).content.decode()
    assert "£30.00 more to pay" in listing
    review = client.get(url, {"session": dearer.pk}).content.decode()
    assert "<strong>£30.00</strong> will be left to pay" in review
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"session": dearer.pk, "difference": "3000"}, follow=True)
    text = response.content.decode()
    assert "£30.00 is still to pay" in text and "data-balance-due" in text
    booking.refresh_from_db()
    assert booking.session_id == dearer.pk and booking.total_amount == 18000


def test_a_changed_difference_is_shown_again_not_applied(client, booking_and_dates):
    booking, first, dearer = booking_and_dates
    client.force_login(booking.purchaser)
    response = client.post(f"/portal/bookings/{booking.reference}/change-date/",
                           {"session": dearer.pk, "difference": "0"})
    assert "please look again" in response.content.decode()
    assert Booking.objects.get(pk=booking.pk).session_id == first.pk


def test_the_purchaser_cancels_one_colleagues_place(client, booking_and_dates,
                                                    django_capture_on_commit_callbacks):
    booking, first, _ = booking_and_dates
    guest = booking.attendees.get(email="guest1.pat@example.com")
    client.force_login(booking.purchaser)
    url = f"/portal/bookings/{booking.reference}/places/{guest.pk}/cancel/"
    page = client.get(url).content.decode()
    assert "You will get back <strong data-refund>£50.00</strong>" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"amount": "5000"}, follow=True)
    assert "£50.00 will be refunded" in response.content.decode()
    assert Attendee.all_objects.get(pk=guest.pk).cancelled_at is not None
    assert Refund.objects.get().amount == 5000


def test_attendees_and_strangers_cannot_change_the_booking(client, booking_and_dates):
    booking, _, dearer = booking_and_dates
    guest = booking.attendees.get(email="guest1.pat@example.com")
    client.force_login(guest.user)
    for url in (f"/portal/bookings/{booking.reference}/change-date/",
                f"/portal/bookings/{booking.reference}/places/{guest.pk}/cancel/"):
        assert client.get(url).status_code == 404
        assert client.post(url, {"session": dearer.pk, "amount": "5000"}).status_code == 404
    page = client.get(f"/portal/bookings/{booking.reference}/").content.decode()
    assert "Change date" not in page and "Cancel this place" not in page
    assert Booking.objects.get(pk=booking.pk).seats == 3
