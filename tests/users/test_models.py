import pytest
from django.db import IntegrityError
from django.db.models import ProtectedError

from apps.users.models import User
from apps.users.services import user_change_role, user_get_or_create
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_email_is_unique_ignoring_case_even_below_the_orm():
    User.objects.create_user(email="Ada@Example.com")
    # Bypass the manager's normalisation: the database itself must refuse it.
    with pytest.raises(IntegrityError):
        User.objects.bulk_create([User(email="ADA@example.COM")])


def test_find_or_create_by_email_never_duplicates():
    first = user_get_or_create(email="Grace.Hopper@Example.com", first_name="Grace")
    again = user_get_or_create(email="  grace.hopper@example.COM ", last_name="Hopper")
    assert first.pk == again.pk
    assert User.objects.count() == 1
    again.refresh_from_db()
    assert (again.first_name, again.last_name) == ("Grace", "Hopper")


def test_customers_need_no_password():
    user = user_get_or_create(email="nopass@example.com")
    assert not user.has_usable_password()
    assert user.role == User.Role.CUSTOMER


def test_user_with_bookings_cannot_be_deleted():
    booking = make_booking(SessionFactory(), email="keep@example.com")
    with pytest.raises(ProtectedError):
        booking.purchaser.delete()
    assert User.objects.filter(email="keep@example.com").exists()


def test_user_without_bookings_can_be_deleted():
    user = user_get_or_create(email="gone@example.com")
    user.delete()
    assert not User.objects.filter(email="gone@example.com").exists()


def test_role_change_is_audited_with_actor_old_and_new():
    admin = User.objects.create_superuser(email="boss@example.com", password="x")
    user = user_get_or_create(email="trainer@example.com")
    user_change_role(user=user, role=User.Role.INSTRUCTOR, actor=admin)
    user.refresh_from_db()
    assert user.role == User.Role.INSTRUCTOR and user.is_staff
    entry = user.activity.get(action="user.role_changed")
    assert entry.actor == admin
    assert entry.data == {"old": "customer", "new": "instructor"}
