"""Issue #26, items 7-8: the role is the only source of staff powers; a demotion takes
them all, superuser flag and API tokens included."""

import pytest
from rest_framework.authtoken.models import Token

from apps.users.models import User
from apps.users.services import user_change_role

pytestmark = pytest.mark.django_db


def test_demoting_a_superuser_admin_takes_the_superuser_flag_too(admin_client):
    boss = User.objects.create_superuser("boss@example.com", "pw-for-tests-1")
    user_change_role(user=boss, role="support", actor=None)
    boss.refresh_from_db()
    assert (boss.role, boss.is_staff, boss.is_superuser) == ("support", True, False)
    assert not boss.has_perm("auth.change_group")
    user_change_role(user=boss, role="customer", actor=None)
    boss.refresh_from_db()
    assert (boss.is_staff, boss.is_superuser) == (False, False)


def test_demoting_in_admin_takes_the_superuser_flag_too(admin_client):
    import re

    boss = User.objects.create_superuser("boss@example.com", "pw-for-tests-1")
    page = admin_client.get(f"/admin/users/user/{boss.pk}/change/").content.decode()
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    form.update({"email": boss.email, "first_name": "", "last_name": "", "phone": "",
                 "company_name": "", "role": "instructor", "is_active": "on",
                 "is_staff": "on", "is_superuser": "on"})
    response = admin_client.post(f"/admin/users/user/{boss.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:1000]
    boss.refresh_from_db()
    assert (boss.role, boss.is_superuser) == ("instructor", False)


def test_a_customer_cannot_be_made_superuser_in_admin_without_the_admin_role(admin_client):
    import re

    pat = User.objects.create_user("pat@example.com")
    page = admin_client.get(f"/admin/users/user/{pat.pk}/change/").content.decode()
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    form.update({"email": pat.email, "first_name": "", "last_name": "", "phone": "",
                 "company_name": "", "role": "customer", "is_active": "on",
                 "is_staff": "on", "is_superuser": "on"})
    admin_client.post(f"/admin/users/user/{pat.pk}/change/", form)
    pat.refresh_from_db()
    assert (pat.is_staff, pat.is_superuser) == (False, False)


@pytest.mark.parametrize("new_role", ["customer", "instructor"])
def test_a_role_change_revokes_api_tokens(client, new_role):
    helper = user_change_role(user=User.objects.create_user("helper@example.com"),
                              role="support", actor=None)
    token = Token.objects.create(user=helper)
    assert client.get("/api/admin/users/",
                      HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    user_change_role(user=helper, role=new_role, actor=None)
    assert not Token.objects.filter(user=helper).exists()
    assert client.get("/api/admin/users/",
                      HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 401
