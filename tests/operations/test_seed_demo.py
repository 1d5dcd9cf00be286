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


def test_seed_demo_tells_the_dashboards_story_through_the_services():
    """Issue #20 item 6: refunds, attendance and certificates come from the services (each
    leaves the trail the service writes), bookings were made over the last weeks, and the
    data is clean by the data-quality checks."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.bookings.models import Attendee
    from apps.certificates.models import Certificate
    from apps.operations.dashboard import dashboard_figures
    from apps.operations.quality import run_checks
    from apps.payments.models import PaymentEvent
    from apps.users.models import ActivityLog

    call_command("seed_demo", verbosity=0)
    now = timezone.now()

    refunds = Refund.objects.all()
    assert refunds.count() >= 3 and set(refunds.values_list("status", flat=True)) == {
        "succeeded"}
    assert PaymentEvent.objects.filter(kind="refund.requested").count() == refunds.count()
    assert ActivityLog.objects.filter(action="refund.requested").count() == refunds.count()
    assert Payment.objects.filter(status="partially_refunded",
                                  booking__status="paid").exists()

    assert ActivityLog.objects.filter(action="attendance.marked").exists()
    came = Attendee.objects.filter(attendance="attended")
    assert came.exists() and Attendee.objects.filter(attendance="no_show").exists()
    assert Certificate.objects.filter(attendee__in=came).count() == came.count()
    assert not Attendee.objects.filter(attendance="unknown",
                                       booking__status="completed").exists()

    booked_days = set(Booking.objects.filter(created_at__gte=now - timedelta(days=90))
                      .values_list("created_at__date", flat=True))
    assert len(booked_days) >= 10
    assert CourseSession.objects.filter(starts_at__lt=now - timedelta(days=60)).exists()
    assert CourseSession.objects.filter(starts_at__gt=now + timedelta(days=60)).exists()

    figures = dashboard_figures(now=now)
    assert figures["renewal"]["renewed"] >= 1
    assert figures["certificates_expiring"]["count"] >= 1
    assert {name: rows for name, rows in run_checks(now=now).items() if rows} == {}
