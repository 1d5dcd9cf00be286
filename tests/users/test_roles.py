import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from apps.payments.services import payment_record_manual
from apps.users.models import ActivityLog, User
from apps.users.roles import role_access_apply
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


def test_the_role_function_puts_right_access_that_drifted_from_the_role():
    pat = user_get_or_create(email="pat@example.com")
    User.objects.filter(pk=pat.pk).update(is_staff=True, is_superuser=True)
    pat.refresh_from_db()
    pat.groups.add(Group.objects.get(name="Admins"))
    pat.user_permissions.add(Permission.objects.get(codename="view_payment"))
    assert pat.has_perm("payments.view_payment")
    assert role_access_apply(pat) == ["is_staff", "is_superuser", "groups",
                                      "user_permissions"]
    pat = User.objects.get(pk=pat.pk)  # no cached permissions
    assert (pat.is_staff, pat.is_superuser) == (False, False)
    assert not pat.groups.exists() and not pat.has_perm("payments.view_payment")
    assert role_access_apply(pat) == []


def test_changing_to_the_same_role_still_puts_drifted_access_right():
    helper = staff("support", "helper@example.com")
    helper.groups.set([Group.objects.get(name="Admins")])
    User.objects.filter(pk=helper.pk).update(is_staff=False)
    user_change_role(user=helper, role="support", actor=None)
    helper.refresh_from_db()
    assert helper.is_staff
    assert list(helper.groups.values_list("name", flat=True)) == ["Support"]
    assert not ActivityLog.objects.filter(action="user.role_changed", target_id=str(helper.pk),
                                          data__old="support").exists()


def test_a_staff_role_given_at_creation_is_granted_by_the_role_and_audited():
    boss = User.objects.create_superuser(email="boss@example.com", password="pw")
    assert (boss.is_staff, boss.is_superuser) == (True, True)
    assert list(boss.groups.values_list("name", flat=True)) == ["Admins"]
    entry = ActivityLog.objects.get(action="user.role_changed", target_id=str(boss.pk))
    assert entry.actor is None and entry.data == {"old": "", "new": "admin"}

    trainer = user_get_or_create(email="trainer@example.com", role="instructor", actor=boss)
    assert trainer.is_staff and trainer.has_perm("course_sessions.view_coursesession")
    entry = ActivityLog.objects.get(action="user.role_changed", target_id=str(trainer.pk))
    assert entry.actor == boss and entry.data == {"old": "", "new": "instructor"}


def test_a_customer_created_with_is_staff_gets_no_staff_access_and_no_role_entry():
    pat = User.objects.create_user(email="pat@example.com", is_staff=True)
    assert not pat.is_staff and not pat.groups.exists()
    assert not ActivityLog.objects.filter(action="user.role_changed").exists()


def test_an_existing_account_keeps_its_role_when_found_again():
    pat = user_get_or_create(email="pat@example.com")
    assert user_get_or_create(email="pat@example.com", role="admin").role == "customer"
    pat.refresh_from_db()
    assert not pat.is_staff


def test_createsuperuser_is_audited():
    call_command("createsuperuser", email="root@example.com", interactive=False,
                 verbosity=0)
    root = User.objects.get(email="root@example.com")
    assert (root.role, root.is_staff, root.is_superuser) == ("admin", True, True)
    assert ActivityLog.objects.filter(action="user.role_changed", target_id=str(root.pk),
                                      data={"old": "", "new": "admin"}).exists()
