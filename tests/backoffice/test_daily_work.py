"""Issue #19 items 1, 3 and 5: money as money, one audit trail, labels and navigation."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from apps.backoffice.forms import PhoneBookingForm
from apps.core.money_forms import MoneyField
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from apps.users.audit import log_action
from apps.users.models import User
from apps.users.roles import Role
from tests.factories import LocationFactory, SessionFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed, stored", [("145", 14500), ("145.00", 14500), ("£1,450.50", 145050),
                                           ("0.5", 50)])
def test_money_is_typed_in_pounds_and_stored_in_pence(typed, stored):
    assert MoneyField().clean(typed) == stored


@pytest.mark.parametrize("typed", ["14.505", "ten", "-3"])
def test_money_that_is_not_an_amount_is_a_clear_error(typed):
    from django import forms

    with pytest.raises(forms.ValidationError):
        MoneyField().clean(typed)


def test_course_price_is_shown_and_edited_as_money(admin_client):
    session = SessionFactory(course__price=14500)
    course = session.course
    listing = admin_client.get(reverse("admin:course_sessions_course_changelist")).content.decode()
    assert "£145.00" in listing and "14500" not in listing
    url = reverse("admin:course_sessions_course_change", args=[course.pk])
    page = admin_client.get(url).content.decode()
    assert 'value="145.00"' in page and "Minor units" not in page
    data = {"title": course.title, "slug": course.slug, "summary": course.summary,
            "description": course.description, "price": "150", "currency": "GBP",
            "validity_months": course.validity_months, "is_active": "on",
            "duration_hours": getattr(course, "duration_hours", "") or ""}
    data = {k: v for k, v in data.items() if v is not None}
    assert admin_client.post(url, data).status_code == 302
    course.refresh_from_db()
    assert course.price == 15000


def test_booking_and_payment_pages_show_money_not_pence(admin_client):
    booking = make_booking(SessionFactory(price=14500), seats=2)
    payment_record_manual(booking=booking, actor=None)
    page = admin_client.get(reverse("admin:bookings_booking_change",
                                    args=[booking.pk])).content.decode()
    assert "£145.00" in page and "£290.00" in page
    assert "14500" not in page and "29000" not in page and "Minor units" not in page
    payment = Payment.objects.get(booking=booking)
    page = admin_client.get(reverse("admin:payments_payment_change",
                                    args=[payment.pk])).content.decode()
    assert "£290.00" in page and 'name="amount"' not in page and "Minor units" not in page


def test_a_sessions_label_names_course_time_and_venue():
    london = ZoneInfo("Europe/London")
    this_year = datetime.now(london).year
    one = SessionFactory(course__title="First Aid at Work",
                         starts_at=datetime(this_year, 12, 8, 9, 30, tzinfo=london),
                         location=LocationFactory(name="Leeds Centre"))
    two = SessionFactory(course=one.course, starts_at=one.starts_at,
                         location=LocationFactory(name="York Centre"))
    assert str(one) == f"First Aid at Work — {one.starts_at:%a} 8 Dec 09:30 — Leeds Centre"
    assert str(one) != str(two)
    form = PhoneBookingForm()
    labels = [label for _, label in form.fields["session"].choices]
    assert any("Leeds Centre" in label and "seats left" in label for label in labels)


def test_people_appear_by_name():
    person = User.objects.create_user("priya@example.com", first_name="Priya",
                                      last_name="Shah")
    assert str(person) == "Priya Shah <priya@example.com>"
    assert str(User.objects.create_user("anon@example.com")) == "anon@example.com"


def staff(role):
    user = User.objects.create_user(f"{role}@example.com", "pw-123456789", role=role)
    if role == Role.ADMIN:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    return user


def test_the_index_is_grouped_by_daily_work_and_hides_technical_models(client):
    client.force_login(staff(Role.SUPPORT))
    page = client.get(reverse("admin:index")).content.decode()
    for section in ("Bookings", "Sessions", "Customers and companies", "Money",
                    "Certificates", "Communications"):
        assert f">{section}<" in page, section
    assert page.index(">Bookings<") < page.index(">Money<")
    for technical in ("Tokens", "Access attempts", "Technical", "Stripe events"):
        assert technical not in page, technical

    client.force_login(staff(Role.ADMIN))
    page = client.get(reverse("admin:index")).content.decode()
    assert ">Technical<" in page
    assert page.index(">Bookings<") < page.index(">Technical<")
    assert "Stripe events" in page[page.index(">Technical<"):]


def test_history_shows_domain_events_with_their_actor_and_admin_edits(admin_client):
    actor = User.objects.create_user("lee@example.com", first_name="Lee", last_name="Staff",
                                     role=Role.SUPPORT)
    booking = make_booking(SessionFactory(price=5000))
    payment_record_manual(booking=booking, actor=actor)
    log_action("booking.moved", actor=actor, target=booking,
               data={"session": {"from": "Mon 7 Dec", "to": "Tue 8 Dec"}})
    LogEntry.objects.create(user=actor, content_type=ContentType.objects.get_for_model(booking),
                            object_id=str(booking.pk), object_repr=str(booking),
                            action_flag=CHANGE, change_message="Changed company name.")
    page = admin_client.get(reverse("admin:bookings_booking_history",
                                    args=[booking.pk])).content.decode()
    assert "doesn’t have a change history" not in page
    assert "booking.moved" in page and "by Lee Staff" in page
    assert "session: Mon 7 Dec → Tue 8 Dec" in page
    assert "Changed company name." in page
    assert "booking.paid" in page or "payment." in page
    assert page.index("booking.moved") < page.index("booking.created") \
        if "booking.created" in page else True


def test_the_activity_log_names_its_targets(admin_client):
    booking = make_booking(SessionFactory())
    person = booking.purchaser
    log_action("booking.note", target=booking, user=person)
    page = admin_client.get(reverse("admin:users_activitylog_changelist")).content.decode()
    assert booking.reference in page
    assert reverse("admin:bookings_booking_change", args=[booking.pk]) in page
    assert person.get_full_name() in page


def test_messages_count_in_plain_english():
    from apps.backoffice.text import counted

    assert counted(1, "attendee") == "1 attendee"
    assert counted(3, "attendee") == "3 attendees"
    assert counted(0, "booking") == "0 bookings"
