import re

import pytest
from django.contrib.auth.models import Group

from apps.payments.services import payment_record_manual
from apps.users.models import ActivityLog, User
from apps.users.services import user_change_role, user_get_or_create
from tests.factories import InstructorFactory, SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def staff(role, email):
    user = user_get_or_create(email=email)
    user = user_change_role(user=user, role=role, actor=None)
    user.set_password("pw-for-tests")
    user.save()
    return user


def test_role_groups_exist_with_their_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Instructors", "Support",
                                                                 "Admins"}
    instructor = staff("instructor", "trainer@example.com")
    assert instructor.has_perm("course_sessions.view_coursesession")
    assert instructor.has_perm("bookings.change_attendee")
    assert not instructor.has_perm("payments.view_payment")
    assert not instructor.has_perm("bookings.view_booking")


def test_changing_role_moves_the_user_between_groups():
    user = staff("support", "helper@example.com")
    assert list(user.groups.values_list("name", flat=True)) == ["Support"]
    user_change_role(user=user, role="customer", actor=None)
    user.refresh_from_db()
    assert not user.groups.exists() and not user.is_staff


def test_an_instructor_sees_only_their_own_sessions_and_no_payments(client):
    trainer = staff("instructor", "mine@example.com")
    mine = SessionFactory(trainer=trainer)
    theirs = SessionFactory(trainer=InstructorFactory())
    booking = make_booking(mine, email="learner@example.com")
    payment = payment_record_manual(booking=booking, actor=None)
    other_booking = make_booking(theirs, email="elsewhere@example.com")
    client.force_login(trainer)

    listing = client.get("/admin/course_sessions/coursesession/").content.decode()
    assert f"/admin/course_sessions/coursesession/{mine.pk}/change/" in listing
    assert f"/admin/course_sessions/coursesession/{theirs.pk}/change/" not in listing
    other = client.get(f"/admin/course_sessions/coursesession/{theirs.pk}/change/")
    assert other.status_code == 302  # "doesn't exist" redirect, nothing shown
    attendees = client.get("/admin/bookings/attendee/").content.decode()
    assert "learner@example.com" in attendees and "elsewhere@example.com" not in attendees
    assert other_booking.attendees.get().email not in attendees
    assert client.get("/admin/payments/payment/").status_code == 403
    assert client.get(f"/admin/payments/payment/{payment.pk}/change/").status_code == 403
    assert client.get("/admin/bookings/booking/").status_code == 403


def test_support_cannot_change_roles_but_admins_can_and_it_is_audited(client):
    support = staff("support", "support@example.com")
    customer = user_get_or_create(email="someone@example.com")
    client.force_login(support)
    page = client.get(f"/admin/users/user/{customer.pk}/change/").content.decode()
    assert 'name="role"' not in page

    admin = User.objects.create_superuser(email="boss@example.com", password="pw")
    client.force_login(admin)
    page = client.get(f"/admin/users/user/{customer.pk}/change/").content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    form = {**hidden, "email": customer.email, "first_name": "Some", "last_name": "One",
            "phone": "",
            "company_name": "", "role": "instructor", "is_active": "on",
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00"}
    response = client.post(f"/admin/users/user/{customer.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    customer.refresh_from_db()
    assert customer.role == "instructor" and customer.is_staff
    assert list(customer.groups.values_list("name", flat=True)) == ["Instructors"]
    entry = ActivityLog.objects.get(action="user.role_changed", target_id=str(customer.pk))
    assert entry.actor == admin and entry.data == {"old": "customer", "new": "instructor"}


def test_support_cannot_take_over_a_staff_account(client):
    """Regression: support (change_user) could set an admin's password on the admin
    password page, or change their email, and so sign in as the admin."""
    support = staff("support", "support@example.com")
    boss = staff("admin", "boss@example.com")
    trainer = staff("instructor", "trainer@example.com")
    customer = user_get_or_create(email="someone@example.com")
    client.force_login(support)

    for target in (boss, trainer):
        page = client.get(f"/admin/users/user/{target.pk}/password/")
        assert page.status_code == 403
        answer = client.post(f"/admin/users/user/{target.pk}/password/", {
            "password1": "taken-over-2026!", "password2": "taken-over-2026!"})
        assert answer.status_code == 403
        target.refresh_from_db()
        assert target.check_password("pw-for-tests")
        change = client.get(f"/admin/users/user/{target.pk}/change/").content.decode()
        assert 'name="email"' not in change  # view only
        answer = client.post(f"/admin/users/user/{target.pk}/change/",
                             {"email": "mallory@example.com"})
        assert answer.status_code == 403
        target.refresh_from_db()
        assert target.email != "mallory@example.com"

    # Customers' profiles stay support's to keep up to date.
    assert client.get(f"/admin/users/user/{customer.pk}/password/").status_code == 200
    assert 'name="email"' in client.get(
        f"/admin/users/user/{customer.pk}/change/").content.decode()
