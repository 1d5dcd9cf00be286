import pytest
from django.core.management import call_command

from apps.bookings.models import Booking, WaitingListEntry, WaitingListOffer
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.refunds.models import Refund
from apps.sessions.models import Course, CourseSession, Location
from apps.users.models import User

pytestmark = pytest.mark.django_db

MODELS = [User, Course, Location, CourseSession, Booking, Payment, Refund, Communication,
          WaitingListEntry, WaitingListOffer]


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
        offered = sum(o.seats for o in session.waitlist_offers.filter(
            status=WaitingListOffer.Status.LIVE))
        assert session.seats_taken == held + offered, session
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


def test_seed_demo_has_a_sold_out_session_with_a_waiting_list_and_a_live_offer():
    """Issue #19 item 7: the waiting list tells its story through its services: a session
    sold out, three people queued, a seat freed by a cancellation went to the first in line
    as a live offer (its email recorded), the others still wait, in the order they joined."""
    from django.utils import timezone

    call_command("seed_demo", verbosity=0)
    (offer,) = WaitingListOffer.objects.all()
    session = offer.session
    assert offer.status == WaitingListOffer.Status.LIVE and offer.expires_at > timezone.now()
    assert offer.entry.name == "Marcus Reid" and offer.entry.seats == offer.seats == 1
    assert session.seats_left == 0  # sold out again: the freed seat is held for Marcus
    assert session.bookings.filter(status=Booking.Status.CANCELLED).exists()
    entries = list(session.waiting_list.order_by("joined_at", "pk"))
    assert [(e.name, e.status) for e in entries] == [
        ("Marcus Reid", WaitingListEntry.Status.OFFERED),
        ("Ellie Thompson", WaitingListEntry.Status.WAITING),
        ("Hamza Ali", WaitingListEntry.Status.WAITING)]
    assert Communication.objects.filter(kind=Communication.Kind.WAITLIST_OFFER,
                                        recipient="marcus.reid@example.com").count() == 1
    assert Communication.objects.filter(kind=Communication.Kind.WAITLIST_JOINED).count() == 3


def test_seed_demo_people_have_real_looking_names():
    """Issue #19: "Colleague 1 of Liam" read as filler; every attendee and account has a
    first and last name, and a group's colleagues are different people."""
    import re

    from apps.bookings.models import Attendee

    call_command("seed_demo", verbosity=0)
    real = re.compile(r"^[A-Z][a-z]+ (O')?[A-Z][a-z]+$")
    names = set(Attendee.objects.values_list("name", flat=True))
    assert names and all(real.match(name) for name in names), sorted(names)
    assert "Siobhan O'Neill" in names
    assert not any("colleague" in name.lower() or "team" in name.lower() for name in names)
    for booking in Booking.objects.filter(seats__gt=1):
        people = list(booking.attendees.values_list("email", flat=True))
        assert len(set(people)) == len(people), booking.reference
    for user in User.objects.filter(attendances__isnull=False).distinct():
        assert user.first_name and user.last_name, user.email
