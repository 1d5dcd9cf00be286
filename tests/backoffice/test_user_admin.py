"""The user admin: the role is the one control of staff access (issue #20, item 4)."""

import pytest
from django.contrib.auth.models import Group, Permission

from apps.users.models import ActivityLog, User
from apps.users.services import user_change_role, user_get_or_create
from tests.backoffice.test_customer_profile_admin import hidden_fields

pytestmark = pytest.mark.django_db


def change_form(client, user, **changes):
    page = client.get(f"/admin/users/user/{user.pk}/change/").content.decode()
    form = {**hidden_fields(page), "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "phone": "", "company_name": "",
            "role": user.role, "is_active": "on"}
    form.update(changes)
    return page, form


def test_staff_flags_and_groups_are_read_only_for_admins_too(admin_client):
    pat = user_get_or_create(email="pat@example.com")
    page, _ = change_form(admin_client, pat)
    assert 'name="role"' in page
    for field in ("is_staff", "is_superuser", "groups"):
        assert f'name="{field}"' not in page


def test_posting_is_staff_or_groups_directly_has_no_effect(admin_client):
    pat = user_get_or_create(email="pat@example.com")
    admins = Group.objects.get(name="Admins")
    _, form = change_form(admin_client, pat, is_staff="on", is_superuser="on",
                          groups=[str(admins.pk)])
    response = admin_client.post(f"/admin/users/user/{pat.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    pat.refresh_from_db()
    assert (pat.role, pat.is_staff, pat.is_superuser) == ("customer", False, False)
    assert not pat.groups.exists()


def test_saving_a_user_whose_access_drifted_from_the_role_puts_it_right(admin_client):
    """Data written around the role (an old hand edit, a script) is fixed by the next save."""
    helper = user_change_role(user=user_get_or_create(email="helper@example.com"),
                              role="support", actor=None)
    User.objects.filter(pk=helper.pk).update(is_superuser=True)
    helper.groups.add(Group.objects.get(name="Admins"))
    helper.user_permissions.add(Permission.objects.get(codename="delete_user"))
    _, form = change_form(admin_client, helper)
    response = admin_client.post(f"/admin/users/user/{helper.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    helper.refresh_from_db()
    assert (helper.is_staff, helper.is_superuser) == (True, False)
    assert list(helper.groups.values_list("name", flat=True)) == ["Support"]
    assert not helper.user_permissions.exists()
    assert not ActivityLog.objects.filter(action="user.role_changed", target_id=str(helper.pk),
                                          actor__isnull=False).exists()  # no role change


def test_a_role_change_in_admin_goes_through_the_service_and_is_audited(admin_client,
                                                                         admin_user):
    pat = user_get_or_create(email="pat@example.com")
    _, form = change_form(admin_client, pat, role="support")
    response = admin_client.post(f"/admin/users/user/{pat.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    pat.refresh_from_db()
    assert (pat.role, pat.is_staff) == ("support", True)
    assert list(pat.groups.values_list("name", flat=True)) == ["Support"]
    entry = ActivityLog.objects.get(action="user.role_changed", target_id=str(pat.pk))
    assert entry.actor == admin_user and entry.data == {"old": "customer", "new": "support"}


def test_a_role_given_on_the_add_form_grants_its_access_and_is_audited(admin_client,
                                                                        admin_user):
    page = admin_client.get("/admin/users/user/add/").content.decode()
    form = {**hidden_fields(page), "email": "New.Trainer@Example.com", "first_name": "New",
            "last_name": "Trainer", "role": "instructor", "is_staff": "on",
            "usable_password": "false"}  # pragma: allowlist secret
    response = admin_client.post("/admin/users/user/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    trainer = User.objects.get(email="new.trainer@example.com")
    assert (trainer.role, trainer.is_staff, trainer.is_superuser) == ("instructor", True, False)
    assert list(trainer.groups.values_list("name", flat=True)) == ["Instructors"]
    entry = ActivityLog.objects.get(action="user.role_changed", target_id=str(trainer.pk))
    assert entry.actor == admin_user and entry.data == {"old": "", "new": "instructor"}


def test_a_customer_added_in_admin_gets_no_staff_access(admin_client):
    page = admin_client.get("/admin/users/user/add/").content.decode()
    form = {**hidden_fields(page), "email": "walkin@example.com", "first_name": "Walk",
            "last_name": "In", "role": "customer", "is_staff": "on",
            "usable_password": "false"}  # pragma: allowlist secret
    response = admin_client.post("/admin/users/user/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    walkin = User.objects.get(email="walkin@example.com")
    assert not walkin.is_staff and not walkin.groups.exists()
    assert not ActivityLog.objects.filter(action="user.role_changed",
                                          target_id=str(walkin.pk)).exists()
