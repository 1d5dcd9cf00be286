import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.payments.services import payment_record_manual
from apps.users.models import User, UserNote
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def hidden_fields(page):
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def test_customer_page_shows_statistics_bookings_payments_and_activity(admin_client):
    booking = make_booking(SessionFactory(price=9500), email="regular@example.com", seats=2)
    payment_record_manual(booking=booking, actor=None)
    customer = booking.purchaser
    page = admin_client.get(f"/admin/users/user/{customer.pk}/change/").content.decode()
    assert "1 paid booking · £190.00 spent net of refunds" in page
    assert booking.reference in page
    assert "Payment history" in page and "Activity history" in page
    assert "booking.paid" in page


def test_staff_notes_are_encrypted_at_rest_and_readable_in_admin(admin_client):
    customer = User.objects.create_user(email="noted@example.com")
    page = admin_client.get(f"/admin/users/user/{customer.pk}/change/").content.decode()
    form = {**hidden_fields(page), "email": customer.email, "first_name": "", "last_name": "",
            "phone": "", "company_name": "", "role": "customer", "is_active": "on",
            "notes-0-text": "Prefers morning sessions; hearing aid user."}
    response = admin_client.post(f"/admin/users/user/{customer.pk}/change/", form)
    assert response.status_code == 302
    note = UserNote.objects.get(user=customer)
    assert note.text == "Prefers morning sessions; hearing aid user."
    assert note.author.email == "admin@example.com"
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM users_usernote WHERE id = %s", [note.pk])
        stored = cursor.fetchone()[0]
    assert "hearing aid" not in stored and stored.startswith("gAAAA")
    page = admin_client.get(f"/admin/users/user/{customer.pk}/change/").content.decode()
    assert "hearing aid user" in page


def test_admin_edits_are_in_the_object_history_with_the_actor(admin_client):
    booking = make_booking(SessionFactory(), email="edit@example.com")
    page = admin_client.get(f"/admin/bookings/booking/{booking.pk}/change/").content.decode()
    attendee = booking.attendees.get()
    form = {**hidden_fields(page), "company_name": "", "special_requirements": "Needs a ramp",
            "attendees-0-name": attendee.name, "attendees-0-email": attendee.email,
}
    response = admin_client.post(f"/admin/bookings/booking/{booking.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:500]
    from django.contrib.admin.models import LogEntry

    entry = LogEntry.objects.get(object_id=str(booking.pk), content_type__model="booking")
    assert entry.user.email == "admin@example.com"
    assert "Special requirements" in entry.get_change_message()
    history = admin_client.get(f"/admin/bookings/booking/{booking.pk}/history/").content.decode()
    assert "Changed Special requirements" in history


def test_customer_activity_names_its_targets_with_links_in_constant_queries(
        admin_client, django_assert_max_num_queries):
    first = make_booking(SessionFactory(), email="active@example.com")
    payment_record_manual(booking=first, actor=None)
    customer = first.purchaser
    url = f"/admin/users/user/{customer.pk}/change/"
    with CaptureQueriesContext(connection) as one_booking:
        page = admin_client.get(url).content.decode()
    activity = page[page.index("Activity history"):]
    link = f'<a href="/admin/bookings/booking/{first.pk}/change/">{first.reference}</a>'
    about = re.findall(r'<td class="field-about">(.*?)</td>', activity, re.S)
    assert any(link in cell for cell in about), about  # by its reference, linked
    assert 'class="field-target_id"' not in activity  # no column of bare ids
    for _ in range(3):
        payment_record_manual(booking=make_booking(SessionFactory(), email=customer.email),
                              actor=None)
    with django_assert_max_num_queries(len(one_booking)):  # no query per activity row
        page = admin_client.get(url).content.decode()
    activity = page[page.index("Activity history"):]
    assert activity.count("/admin/bookings/booking/") >= 4
