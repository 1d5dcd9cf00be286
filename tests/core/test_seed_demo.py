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
