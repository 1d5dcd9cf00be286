"""Business dashboard: figures against a small hand-made data set, caching, access, page."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.bookings.models import Attendee, Booking
from apps.certificates.models import Certificate
from apps.operations import charts
from apps.operations.dashboard import (
    CACHE_KEY,
    DASHBOARD_QUERIES,
    dashboard_figures,
    dashboard_figures_cached,
)
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from apps.refunds.models import Refund
from apps.refunds.services import refund_create
from apps.sessions.models import CourseSession
from apps.users.models import User
from apps.users.roles import GROUP_NAMES
from tests.factories import CourseFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

# Wednesday 17 June 2026, 13:00 in London (BST). Days, weeks and months are London ones.
NOW = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def customer(joined=LONG_AGO, **extra):
    return UserFactory(date_joined=joined, **extra)


def booking(session, purchaser, status, created_at, *, seats=1, attendees=()):
    made = Booking.objects.create(
        purchaser=purchaser, session=session, status=status, seats=seats,
        unit_price=session.price, total_amount=session.price * seats,
    )
    Booking.objects.filter(pk=made.pk).update(created_at=created_at)
    for user in attendees:
        Attendee.objects.create(booking=made, user=user, name=user.email, email=user.email)
    made.refresh_from_db()
    return made


def payment(carrier, status, *, amount, created_at, succeeded_at=None, method="card",
            currency="GBP", attempt):
    made = Payment.objects.create(
        booking=carrier, user=carrier.purchaser, method=method, amount=amount,
        currency=currency, status=status, succeeded_at=succeeded_at, attempt=attempt,
    )
    Payment.objects.filter(pk=made.pk).update(created_at=created_at)
    return made


def refund(paid, status, *, amount, updated_at):
    made = Refund.objects.create(payment=paid, amount=amount, status=status,
                                 initiator=Refund.Initiator.STAFF)
    Refund.objects.filter(pk=made.pk).update(updated_at=updated_at)
    return made


def certificate(holder, session, *, expires_on, revoked=False):
    """With the booking it came from: a completed one, long ago, on `session`."""
    origin = booking(session, holder, "completed", utc(2023, 1, 1), attendees=[holder])
    return Certificate.objects.create(
        attendee=origin.attendees.get(), user=holder, course=session.course, session=session,
        holder_name=holder.email, issued_on=date(2023, 5, 10), expires_on=expires_on,
        revoked_at=utc(2024, 1, 1) if revoked else None,
    )


@pytest.fixture
def data_set():
    course_a = CourseFactory(title="Emergency First Aid at Work")
    course_b = CourseFactory(title="Fire Marshal")
    a_2023 = SessionFactory(course=course_a, starts_at=utc(2023, 5, 10, 9), capacity=10)
    a_2025 = SessionFactory(course=course_a, starts_at=utc(2025, 1, 10, 9), capacity=10)
    a_soon = SessionFactory(course=course_a, starts_at=NOW + timedelta(days=2), capacity=10)
    b_later = SessionFactory(course=course_b, starts_at=NOW + timedelta(days=5), capacity=20)
    b_cancelled = SessionFactory(course=course_b, starts_at=NOW + timedelta(days=3),
                                 capacity=10, status=CourseSession.Status.CANCELLED)
    b_started = SessionFactory(course=course_b, starts_at=NOW - timedelta(days=1), capacity=8)
    CourseSession.objects.filter(pk=a_soon.pk).update(seats_taken=4)
    CourseSession.objects.filter(pk=b_later.pk).update(seats_taken=15)
    CourseSession.objects.filter(pk=b_started.pk).update(seats_taken=8)
    CourseSession.objects.filter(pk=b_cancelled.pk).update(seats_taken=0)

    # New customers: June 2026 ×2, April 2026, July 2025 (00:30 London on 1 July is still
    # 30 June in UTC); not June 2025 (13 months ago), not July 2026, not an instructor.
    buyer = customer(joined=utc(2026, 6, 2, 10))
    customer(joined=utc(2026, 6, 10, 10))
    customer(joined=utc(2026, 4, 15, 10))
    customer(joined=utc(2025, 6, 30, 23, 30))
    customer(joined=utc(2025, 6, 30, 12))
    customer(joined=utc(2026, 6, 30, 23, 30))
    customer(joined=utc(2026, 6, 5), role=User.Role.INSTRUCTOR)

    # Bookings per day: today ×2 (one made at 00:30 London, still yesterday in UTC),
    # 10 June, and 20 March (the first of the 90 days); not an expired hold, not 19 March.
    booking(a_soon, buyer, "paid", utc(2026, 6, 17, 9))
    booking(a_soon, buyer, "pending", utc(2026, 6, 16, 23, 30))
    booking(a_soon, buyer, "expired", utc(2026, 6, 17, 8))
    booking(b_later, buyer, "cancelled", utc(2026, 6, 10, 10))
    invoiced = booking(b_later, buyer, "pending", utc(2026, 3, 20, 10))
    booking(b_later, buyer, "paid", utc(2026, 3, 19, 23, 30))

    # Payments and refunds (weeks start on Monday 23 March ... Monday 15 June 2026).
    carrier = booking(a_2023, customer(), "paid", utc(2023, 1, 1))
    p1 = payment(carrier, "succeeded", amount=10000, created_at=utc(2026, 6, 14),
                 succeeded_at=utc(2026, 6, 14, 23, 30), attempt=1)  # Mon 15 Jun, London
    payment(carrier, "failed", amount=5000, created_at=utc(2026, 6, 10), attempt=2)
    p3 = payment(carrier, "refunded", amount=5000, created_at=utc(2026, 6, 10),
                 succeeded_at=utc(2026, 6, 10, 10), attempt=3)
    p5 = payment(carrier, "refunded", amount=7000, created_at=utc(2026, 3, 22),
                 succeeded_at=utc(2026, 3, 22, 12), attempt=4)  # the week before the 13
    payment(carrier, "failed", amount=5000, created_at=utc(2026, 3, 18), attempt=5)  # >90 days
    payment(carrier, "requires_payment", amount=5000, created_at=utc(2026, 6, 16), attempt=6)
    p8 = payment(carrier, "partially_refunded", amount=3000, created_at=utc(2026, 5, 4),
                 succeeded_at=utc(2026, 5, 4, 10), attempt=7)
    payment(carrier, "succeeded", amount=999, currency="EUR", created_at=utc(2026, 6, 1),
            succeeded_at=utc(2026, 6, 1, 10), attempt=8)
    refund(p3, "succeeded", amount=5000, updated_at=utc(2026, 6, 16, 10))
    refund(p8, "succeeded", amount=1000, updated_at=utc(2026, 5, 6))
    refund(p1, "pending", amount=2000, updated_at=utc(2026, 6, 16))
    refund(p1, "failed", amount=500, updated_at=utc(2026, 6, 16))
    refund(p5, "succeeded", amount=7000, updated_at=utc(2026, 3, 30, 10))  # net -70.00
    # An invoice paid through the service on Monday 23 March, £20 of it refunded next day.
    p4 = payment_record_manual(booking=invoiced, actor=None, now=utc(2026, 3, 23, 9))
    Payment.objects.filter(pk=p4.pk).update(amount=20000, created_at=utc(2026, 3, 23, 9))
    p4.refresh_from_db()
    manual = refund_create(payment=p4, amount=2000, initiator=Refund.Initiator.STAFF)
    assert Refund.objects.get(pk=manual.pk).status == Refund.Status.SUCCEEDED
    Refund.objects.filter(pk=manual.pk).update(updated_at=utc(2026, 3, 24, 9))

    # Certificates expiring in the next 90 days: today and day 90; not day 91, not revoked.
    holder = customer()
    certificate(holder, a_2023, expires_on=date(2026, 6, 17))
    certificate(customer(), b_started, expires_on=date(2026, 9, 15))
    certificate(customer(), b_started, expires_on=date(2026, 9, 16))
    certificate(customer(), b_started, expires_on=date(2026, 7, 1), revoked=True)

    # Renewal: 5 expired certificates (course A), 2 renewed.
    certificate(holder, a_2023, expires_on=date(2026, 5, 10))
    booking(a_2025, holder, "paid", utc(2024, 12, 1), attendees=[holder])  # renewed
    attendee_holder = customer()
    certificate(attendee_holder, a_2023, expires_on=date(2026, 5, 10))
    booking(a_soon, customer(), "paid", utc(2023, 1, 2), seats=1,
            attendees=[attendee_holder])  # renewed as attendee
    other_course = customer()
    certificate(other_course, a_2023, expires_on=date(2026, 5, 10))
    booking(b_later, other_course, "paid", utc(2023, 1, 2))  # another course: no
    earlier_run = customer()
    certificate(earlier_run, a_2025, expires_on=date(2026, 5, 10))
    booking(a_2023, earlier_run, "paid", utc(2023, 1, 2))  # an earlier run: no
    cancelled = customer()
    certificate(cancelled, a_2023, expires_on=date(2026, 5, 10))
    booking(a_soon, cancelled, "cancelled", utc(2023, 1, 2))  # not paid/completed: no
    certificate(customer(), a_2023, expires_on=date(2026, 1, 1), revoked=True)
    return {"a_soon": a_soon, "b_later": b_later}


def test_figures_equal_hand_computed_values(data_set):
    figures = dashboard_figures(now=NOW)

    days = figures["bookings_per_day"]
    assert len(days) == 90
    assert days[0]["day"] == date(2026, 3, 20) and days[-1]["day"] == date(2026, 6, 17)
    assert {point["day"]: point["count"] for point in days if point["count"]} == {
        date(2026, 3, 20): 1, date(2026, 6, 10): 1, date(2026, 6, 17): 2,
    }
    assert figures["bookings_total"] == 4

    weeks = figures["revenue_per_week"]
    assert len(weeks) == 13
    assert weeks[0]["week_start"] == date(2026, 3, 23)
    assert weeks[-1]["week_start"] == date(2026, 6, 15)
    assert {w["week_start"]: (w["gross"], w["refunds"], w["net"])
            for w in weeks if w["gross"] or w["refunds"]} == {
        date(2026, 3, 23): (20000, 2000, 18000),
        date(2026, 3, 30): (0, 7000, -7000),
        date(2026, 5, 4): (3000, 1000, 2000),
        date(2026, 6, 8): (5000, 0, 5000),
        date(2026, 6, 15): (10000, 5000, 5000),
    }
    assert figures["revenue_net_total"] == 23000
    assert figures["revenue_other_currencies"] == ["EUR"]
    assert figures["currency"] == "GBP"

    # Card attempts since 19 March 12:00: succeeded p1, p3, p5, p8 and the EUR one; failed 1.
    assert figures["payment_success"] == {"succeeded": 5, "failed": 1, "rate": 5 / 6}

    months = figures["new_customers_per_month"]
    assert [point["month"] for point in months] == [
        date(2025, 7, 1), date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1),
        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1),
        date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1),
    ]
    assert {p["month"]: p["count"] for p in months if p["count"]} == {
        date(2025, 7, 1): 1, date(2026, 4, 1): 1, date(2026, 6, 1): 2,
    }
    assert figures["new_customers_total"] == 4

    fill = figures["fill"]
    assert (fill["sessions"], fill["seats_taken"], fill["capacity"]) == (2, 19, 30)
    assert fill["rate"] == pytest.approx(19 / 30)
    assert [(s["id"], s["seats_taken"], s["capacity"], s["rate"])
            for s in fill["next_sessions"]] == [
        (data_set["a_soon"].pk, 4, 10, 0.4), (data_set["b_later"].pk, 15, 20, 0.75),
    ]
    assert fill["next_sessions"][0]["course"] == "Emergency First Aid at Work"

    expiring = figures["certificates_expiring"]
    assert expiring["count"] == 2
    assert [(c["expires_on"], c["days_left"]) for c in expiring["items"]] == [
        (date(2026, 6, 17), 0), (date(2026, 9, 15), 90),
    ]

    assert figures["renewal"] == {"expired": 5, "renewed": 2, "rate": 0.4}


def test_figures_on_an_empty_database_have_no_rates():
    figures = dashboard_figures(now=NOW)
    assert figures["bookings_total"] == 0 and len(figures["bookings_per_day"]) == 90
    assert figures["payment_success"]["rate"] is None
    assert figures["fill"]["rate"] is None and figures["fill"]["next_sessions"] == []
    assert figures["renewal"]["rate"] is None
    assert figures["certificates_expiring"] == {"count": 0, "items": []}


def test_figures_take_a_fixed_number_of_queries(data_set, django_assert_num_queries):
    with django_assert_num_queries(DASHBOARD_QUERIES):
        dashboard_figures(now=NOW)


def test_figures_are_cached_for_five_minutes(data_set, django_assert_num_queries):
    first = dashboard_figures_cached(now=NOW)
    with django_assert_num_queries(0):
        second = dashboard_figures_cached(now=NOW)
    assert second == first
    assert 0 < cache.ttl(CACHE_KEY) <= 300  # django-redis (tests run on Redis)


def test_charts_escape_text_and_draw_negative_bars():
    svg = charts.bar_chart([("<b>", 5), ("x&y", -3)], title='Say "hi" <script>')
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "&lt;b&gt;" in svg and "x&amp;y" in svg
    assert svg.count('class="chart-bar is-negative"') == 1
    assert "style=" not in svg
    line = charts.line_chart([("a", 1), ("b", 4)], title="Line")
    assert "<polyline" in line and line.count("<title") == 3
    assert ">40%<" in charts.ring(0.4, title="Rate") and ">–<" in charts.ring(None, title="R")
    assert charts.nice_ticks(0, 7) == [0, 2, 4, 6, 8]
    assert charts.nice_ticks(-7000, 18000) == [-10000, 0, 10000, 20000]


def staff_user(role):
    user = UserFactory(role=role, is_staff=True)
    user.groups.add(Group.objects.get(name=GROUP_NAMES[role]))
    return user


def test_anonymous_and_customers_are_sent_to_the_admin_login(client):
    url = reverse("staff-dashboard")
    login = reverse("admin:login")
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(login)
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(login)


def test_instructors_cannot_open_it_support_and_admins_can(client):
    url = reverse("staff-dashboard")
    client.force_login(staff_user(User.Role.INSTRUCTOR))
    assert client.get(url).status_code == 403
    client.force_login(staff_user(User.Role.SUPPORT))
    assert client.get(url).status_code == 200


def test_page_shows_figures_and_svg_charts_without_scripts_or_inline_styles(
        admin_client, data_set):
    dashboard_figures_cached(now=NOW)  # the page shows the cached figures (as of NOW)
    response = admin_client.get(reverse("staff-dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") >= 6 + 2  # 3 charts, 3 rings, a meter per upcoming session
    assert "Bookings per day" in html and "£230" in html and "83.3%" in html
    assert "40.0%" in html and "63.3%" in html
    assert "css/dashboard.css" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    assert " style=" not in html
    assert response["Content-Security-Policy"]


def test_page_query_count_does_not_grow_with_data(admin_client, data_set):
    url = reverse("staff-dashboard")
    admin_client.get(url)  # warm up the session and permission caches of this client
    cache.delete(CACHE_KEY)
    with CaptureQueriesContext(connection) as small:
        admin_client.get(url)
    sessions = [SessionFactory(starts_at=NOW + timedelta(days=n), capacity=5) for n in
                range(1, 15)]
    for session in sessions:
        booking(session, customer(joined=NOW - timedelta(days=3)), "paid", NOW)
    cache.delete(CACHE_KEY)
    with CaptureQueriesContext(connection) as large:
        admin_client.get(url)
    assert len(large) == len(small)
    with CaptureQueriesContext(connection) as cached:
        admin_client.get(url)
    assert len(cached) == len(small) - DASHBOARD_QUERIES


def test_admin_index_links_to_the_dashboard(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("staff-dashboard")}"' in html and "Business dashboard" in html


def test_beat_keeps_the_figures_warm_so_staff_never_wait_for_them(admin_client):
    """The periodic refresh computes the figures into the cache: the page then runs none
    of the queries over bookings, and a booking made since shows after the next refresh."""
    from django.conf import settings

    from apps.operations.tasks import refresh_dashboard_task
    from tests.factories import make_booking

    schedule = settings.CELERY_BEAT_SCHEDULE["refresh-dashboard"]
    assert schedule["task"] == "apps.operations.tasks.refresh_dashboard_task"
    assert schedule["schedule"] < 5 * 60  # inside the cache's lifetime

    cache.clear()
    refresh_dashboard_task.delay()
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(reverse("staff-dashboard"))
    assert page.status_code == 200
    assert not any("bookings_booking" in q["sql"] for q in queries.captured_queries)

    session = SessionFactory(capacity=5)
    make_booking(session)
    refresh_dashboard_task.delay()
    assert cache.get("core:dashboard:figures:v1")["bookings_total"] == 1
