import pytest
from django.core.management import call_command

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.refunds.models import Refund
from apps.sessions.models import Course, CourseSession, Location
from apps.users.models import User

pytestmark = pytest.mark.django_db

MODELS = [User, Course, Location, CourseSession, Booking, Payment, Refund, Communication]


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seed_demo_twice_gives_the_same_counts():
    call_command("seed_demo", verbosity=0)
    first = counts()
    call_command("seed_demo", verbosity=0)
    assert counts() == first
    assert first["Course"] >= 3 and first["CourseSession"] >= 20


def test_seed_demo_has_a_booking_in_every_status_and_consistent_totals():
    call_command("seed_demo", verbosity=0)
    statuses = set(Booking.objects.values_list("status", flat=True))
    assert statuses == set(Booking.Status.values)
    for session in CourseSession.objects.all():
        held = sum(b.seats for b in session.bookings.all() if b.holds_seats)
        assert session.seats_taken == held, session
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.check_password("portal-demo-admin")


def test_seed_demo_prints_each_login_with_its_own_password():
    """Issue #21.10: the admin's password was printed on the line after the instructor's
    login, so it read as the instructor's."""
    from io import StringIO

    out = StringIO()
    call_command("seed_demo", stdout=out)
    lines = out.getvalue().splitlines()
    [admin_line] = [line for line in lines if "admin@example.com" in line]
    [instructor_line] = [line for line in lines if "sam.patel@example.com" in line]
    assert "portal-demo-admin" in admin_line and "/admin/" in admin_line
    assert "portal-demo-trainer" in instructor_line
    assert "portal-demo-admin" not in instructor_line
    assert not any(line.strip().startswith("Password") for line in lines)
    again = StringIO()
    call_command("seed_demo", stdout=again)
    [admin_again] = [line for line in again.getvalue().splitlines()
                     if "admin@example.com" in line]
    assert "already existed" in admin_again and "portal-demo-admin" not in admin_again
