"""Staff substitute an attendee from the booking (#17 item 3): a two-step admin page
through the service; the attendee's person can no longer be edited as raw fields."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.bookings.models import Attendee
from apps.core.models import Communication
from apps.users.models import ActivityLog, User
from tests.bookings.notify_helpers import book, pay
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seat():
    booking = pay(book(SessionFactory(capacity=5), purchaser=("Pat Buyer", "pat@example.com"),
                       attendees=[("Olive Old", "olive@example.com")]))
    return booking.attendees.get()


def test_the_page_is_reachable_by_name_and_linked_from_the_booking(admin_client, seat):
    url = reverse("admin:bookings_booking_substitute", args=[seat.pk])
    change = admin_client.get(reverse("admin:bookings_booking_change", args=[seat.booking_id]))
    assert url in change.content.decode()
    page = admin_client.get(url)
    assert page.status_code == 200 and "Olive Old" in page.content.decode()


def test_staff_confirm_then_the_seat_passes_even_inside_the_customer_cut_off(
        admin_client, seat, settings):
    settings.SUBSTITUTION_CUTOFF_HOURS = 24 * 365  # customers are long past it
    url = reverse("admin:bookings_booking_substitute", args=[seat.pk])
    data = {"name": "Nina New", "email": "nina@example.com", "replacing": "olive@example.com"}
    confirm = admin_client.post(url, data)
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "Confirm the substitution" in text and "loses access" in text
    seat.refresh_from_db()
    assert seat.email == "olive@example.com"  # nothing yet
    done = admin_client.post(url, {**data, "confirmed": "on"})
    assert done.status_code == 302
    seat.refresh_from_db()
    assert (seat.name, seat.user.email) == ("Nina New", "nina@example.com")
    entry = ActivityLog.objects.get(action="attendee.substituted")
    assert entry.data["by_staff"] is True and entry.actor.is_staff
    assert Communication.objects.filter(recipient="olive@example.com",
                                        kind=Communication.Kind.BOOKING_CANCELLED).exists()


def test_a_refusal_is_shown_to_staff(admin_client, seat):
    url = reverse("admin:bookings_booking_substitute", args=[seat.pk])
    response = admin_client.post(url, {"name": "Pat Buyer", "email": "olive@example.com",
                                       "replacing": "olive@example.com", "confirmed": "on"},
                                 follow=True)
    assert "already holds this seat" in response.content.decode()


def test_after_the_start_nothing_can_be_substituted(admin_client, seat):
    session = seat.booking.session
    session.starts_at = timezone.now() - timedelta(hours=1)
    session.save(update_fields=["starts_at"])
    url = reverse("admin:bookings_booking_substitute", args=[seat.pk])
    assert "has started" in admin_client.get(url).content.decode()


def test_correcting_the_spelling_keeps_the_person_and_emails_nobody(admin_client, seat):
    url = reverse("admin:bookings_booking_substitute", args=[seat.pk])
    before = Communication.objects.count()
    response = admin_client.post(url, {"corrected_name": "Olivia Old"})
    assert response.status_code == 302
    seat.refresh_from_db()
    assert (seat.name, seat.email) == ("Olivia Old", "olive@example.com")
    assert Communication.objects.count() == before


def test_the_attendee_form_no_longer_changes_the_person_behind_the_seat(admin_client, seat):
    """The old bug: editing name/email in admin left the account (and the certificate)
    with the old person. Those fields are read-only now; the page links to Substitute."""
    url = reverse("admin:bookings_attendee_change", args=[seat.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="email"' not in page and 'name="name"' not in page
    assert reverse("admin:bookings_booking_substitute", args=[seat.pk]) in page
    olive = seat.user
    admin_client.post(url, {"name": "Someone Else", "email": "else@example.com",
                            "user": User.objects.create_user(email="else@example.com").pk})
    seat = Attendee.objects.get(pk=seat.pk)
    assert (seat.name, seat.email, seat.user) == ("Olive Old", "olive@example.com", olive)
