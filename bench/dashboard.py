"""How long do the staff dashboard's figures take with 100,000 bookings? PostgreSQL + Redis.

Fills a bench database once (bulk_create: ~3 years of sessions, customers, bookings with
one attendee each, card payments with failed attempts, refunds, certificates), then times
`dashboard_figures()` cold (its cache entry deleted) and warm (from Redis), and the whole
staff page rendered by the test client, 3 runs each, and prints the figures.

    .venv/bin/python bench/dashboard.py [--bookings 100000] [--rebuild]

The data is kept between runs (`--rebuild` drops and refills it). Only the dashboard's
own cache key is deleted: the Redis database is never flushed.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "portal_bench_dashboard"
SEED = 20261122


def setup_django():
    env = {
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL",
                                       f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "EMAIL_URL": "locmem://",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                    f"CREATE DATABASE {DB_NAME}"], capture_output=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=os.environ,
                   check=True)
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


@contextmanager
def own_timestamps(*fields):
    """bulk_create with our own created_at/updated_at: switch auto_now(_add) off."""
    saved = [(field, field.auto_now, field.auto_now_add) for field in fields]
    for field, _, _ in saved:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def fill(total_bookings: int) -> None:
    from dateutil.relativedelta import relativedelta
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.bookings.models import Attendee, Booking
    from apps.certificates.models import Certificate
    from apps.payments.models import Payment
    from apps.refunds.models import Refund
    from apps.sessions.models import Course, CourseSession, Location
    from apps.users.models import User

    rng = random.Random(SEED)
    now = timezone.now()
    began = time.perf_counter()
    n_sessions = max(total_bookings // 50, 10)
    n_customers = max(total_bookings * 3 // 10, 10)
    with transaction.atomic():
        courses = Course.objects.bulk_create([
            Course(title=title, slug=f"bench-{n}", price=price, validity_months=months)
            for n, (title, price, months) in enumerate([
                ("Emergency First Aid at Work", 9500, 12), ("First Aid at Work", 22500, 36),
                ("Fire Marshal", 8500, 12), ("Mental Health First Aid", 17500, 24),
                ("Paediatric First Aid", 13000, 36), ("Manual Handling", 6500, 12)])
        ])
        locations = Location.objects.bulk_create([
            Location(name=f"Bench room {city}", address_line1="1 Bench St", city=city,
                     postcode="N1 1AA")
            for city in ("London", "Leeds", "Bristol", "Manchester", "Glasgow")
        ])
        trainers = User.objects.bulk_create([
            User(email=f"bench.trainer{n}@example.com", role="instructor", is_staff=True,
                 password="!", date_joined=now - timedelta(days=1200))  # noqa: S106
            for n in range(12)
        ])
        sessions = []
        for n in range(n_sessions):
            starts = (now - timedelta(days=1000) + timedelta(days=1120 * n / n_sessions)).replace(
                hour=9, minute=0, second=0, microsecond=0)
            course = rng.choice(courses)
            capacity = rng.choice((12, 16, 20, 24))
            upcoming = starts > now
            sessions.append(CourseSession(
                course=course, trainer=rng.choice(trainers), location=rng.choice(locations),
                starts_at=starts, ends_at=starts + timedelta(hours=6), capacity=capacity,
                seats_taken=rng.randint(0, capacity) if upcoming else rng.randint(
                    capacity // 2, capacity),
                price=course.price,
                status="cancelled" if rng.random() < 0.03 else "scheduled",
            ))
        sessions = CourseSession.objects.bulk_create(sessions, batch_size=5000)
        customers = User.objects.bulk_create([
            User(email=f"bench.customer{n}@example.com", password="!",  # noqa: S106
                 first_name="Bench", last_name=f"Customer {n}",
                 date_joined=now - timedelta(days=1100 * (1 - n / n_customers) ** 1.3))
            for n in range(n_customers)
        ], batch_size=5000)
        print(f"  courses, {len(sessions):,} sessions, {len(customers):,} customers "
              f"({time.perf_counter() - began:.1f}s)")

        statuses = (["completed"] * 45 + ["paid"] * 25 + ["expired"] * 8 + ["cancelled"] * 6
                    + ["refunded"] * 6 + ["no_show"] * 5 + ["pending"] * 5)
        past_sessions = [s for s in sessions if s.starts_at <= now]
        bookings = []
        for n in range(total_bookings):
            session = rng.choice(sessions)
            created = session.starts_at - timedelta(minutes=rng.randint(60, 60 * 24 * 60))
            if created > now:  # an upcoming session: booked some time in the last 45 days
                created = now - timedelta(minutes=rng.randint(1, 60 * 24 * 45))
            if session.starts_at <= now:
                status = rng.choice(statuses)
            else:
                status = rng.choice(["paid"] * 80 + ["pending"] * 8 + ["expired"] * 8
                                    + ["cancelled"] * 4)
            seats = rng.choice((1, 1, 1, 1, 2, 3))
            bookings.append(Booking(
                reference=f"BN-{n:07d}", purchaser=rng.choice(customers),
                session=session, status=status, seats=seats, unit_price=session.price,
                total_amount=session.price * seats, created_at=created, updated_at=created,
                paid_at=created + timedelta(minutes=3) if status not in
                ("pending", "expired") else None,
            ))
        with own_timestamps(Booking._meta.get_field("created_at"),
                            Booking._meta.get_field("updated_at")):
            bookings = Booking.objects.bulk_create(bookings, batch_size=5000)
        print(f"  {len(bookings):,} bookings ({time.perf_counter() - began:.1f}s)")
        attendees = Attendee.objects.bulk_create([
            Attendee(booking=b, user=b.purchaser, name=f"Bench {b.purchaser_id}",
                     email=b.purchaser.email) for b in bookings
        ], batch_size=5000)

        payments, refunds = [], []
        for booking in bookings:
            attempt = 1
            if rng.random() < 0.12 or booking.status == "expired":
                payments.append(Payment(
                    booking=booking, user=booking.purchaser, amount=booking.total_amount,
                    status="failed", attempt=attempt, created_at=booking.created_at,
                    updated_at=booking.created_at))
                attempt += 1
            if booking.paid_at is None:
                continue
            refunded = booking.status == "refunded" or (
                booking.status == "cancelled" and rng.random() < 0.7)
            method = "invoice" if rng.random() < 0.1 else "card"
            payments.append(Payment(
                booking=booking, user=booking.purchaser, amount=booking.total_amount,
                method=method, status="refunded" if refunded else "succeeded",
                attempt=attempt, created_at=booking.created_at, updated_at=booking.paid_at,
                succeeded_at=booking.paid_at))
            if refunded:
                refunds.append((payments[-1], booking.paid_at + timedelta(
                    days=rng.randint(1, 20))))
        with own_timestamps(Payment._meta.get_field("created_at"),
                            Payment._meta.get_field("updated_at")):
            Payment.objects.bulk_create(payments, batch_size=5000)
        with own_timestamps(Refund._meta.get_field("created_at"),
                            Refund._meta.get_field("updated_at")):
            Refund.objects.bulk_create([
                Refund(payment=paid, amount=paid.amount, status="succeeded", initiator="customer",
                       created_at=min(when, now), updated_at=min(when, now))
                for paid, when in refunds
            ], batch_size=5000)
        print(f"  {len(payments):,} payments, {len(refunds):,} refunds "
              f"({time.perf_counter() - began:.1f}s)")

        by_pk = {session.pk: session for session in past_sessions}
        certificates = []
        for attendee, booking in zip(attendees, bookings, strict=True):
            session = by_pk.get(booking.session_id)
            if booking.status != "completed" or session is None:
                continue
            issued = timezone.localdate(session.ends_at)
            certificates.append(Certificate(
                attendee=attendee, user_id=attendee.user_id, course_id=session.course_id,
                session=session, number=f"CERT-B{attendee.pk:09d}",
                verification_code=f"bench-{attendee.pk}", holder_name=attendee.name,
                issued_on=issued,
                expires_on=issued + relativedelta(months=session.course.validity_months),
            ))
        Certificate.objects.bulk_create(certificates, batch_size=5000)
        print(f"  {len(certificates):,} certificates ({time.perf_counter() - began:.1f}s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(function, runs=3):
    results = []
    for _ in range(runs):
        began = time.perf_counter()
        function()
        results.append((time.perf_counter() - began) * 1000)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if args.rebuild:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                        f"DROP DATABASE IF EXISTS {DB_NAME}"], check=True)
    setup_django()

    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    from apps.bookings.models import Booking
    from apps.core.dashboard import (
        dashboard_cache_clear,
        dashboard_figures,
        dashboard_figures_cached,
    )
    from apps.payments.models import Payment
    from apps.users.models import User

    if not Booking.objects.exists():
        print(f"filling {DB_NAME} with {args.bookings:,} bookings ...")
        fill(args.bookings)
    counts = {model.__name__: model.objects.count() for model in
              (Booking, User, Payment)}
    print(f"data: {counts}")

    def cold():
        dashboard_cache_clear()
        return dashboard_figures()

    with CaptureQueriesContext(connection) as queries:
        cold_runs = timed(cold)
    per_query = sorted(((float(q["time"]) * 1000, q["sql"][:90]) for q in queries.captured_queries[
        -len(queries.captured_queries) // 3:]), reverse=True)
    dashboard_figures_cached()  # fill the cache entry; the warm runs read it
    warm_runs = timed(dashboard_figures_cached)

    admin, _ = User.objects.get_or_create(
        email="bench.admin@example.com",
        defaults={"role": "admin", "is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(admin)
    try:
        reverse("staff-dashboard")
        urlconf = {}
    except NoReverseMatch:  # not in config/urls.py yet
        urlconf = {"ROOT_URLCONF": "tests.core.dashboard_urls"}
    # Plain static storage: no collectstatic into the shared staticfiles/ for a bench.
    storages = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=storages, **urlconf):
        url = reverse("staff-dashboard")

        def page():
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        page()  # session, permissions, template loading

        def page_cold():
            dashboard_cache_clear()
            page()

        page_cold_runs = timed(page_cold)
        page_warm_runs = timed(page)

    def show(name, runs):
        print(f"  {name:<34} " + " / ".join(f"{ms:7.1f}" for ms in runs)
              + f" ms   (median {statistics.median(runs):.1f})")

    print(f"PostgreSQL + Redis, {os.cpu_count()} cores, 3 runs each:")
    show("dashboard_figures() cold", cold_runs)
    show("dashboard_figures_cached() warm", warm_runs)
    show("staff page, figures cold", page_cold_runs)
    show("staff page, figures cached", page_warm_runs)
    print("  slowest queries of the last cold run:")
    for ms, sql in per_query[:4]:
        print(f"    {ms:6.1f} ms  {sql}")

    figures = dashboard_figures_cached()
    print("figures:")
    print(f"  bookings last 90 days: {figures['bookings_total']:,} "
          f"(last 7 days: {[p['count'] for p in figures['bookings_per_day'][-7:]]})")
    print(f"  net revenue 13 weeks: {figures['revenue_net_total'] / 100:,.2f} "
          f"{figures['currency']} (last 4 weeks: "
          f"{[p['net'] // 100 for p in figures['revenue_per_week'][-4:]]})")
    print(f"  payment success: {figures['payment_success']}")
    print(f"  new customers 12 months: {figures['new_customers_total']:,} "
          f"(by month: {[p['count'] for p in figures['new_customers_per_month']]})")
    fill_rate = figures["fill"]
    print(f"  fill: {fill_rate['seats_taken']:,}/{fill_rate['capacity']:,} seats on "
          f"{fill_rate['sessions']} sessions = {fill_rate['rate']:.1%}")
    print(f"  certificates expiring in 90 days: {figures['certificates_expiring']['count']:,}")
    print(f"  renewal: {figures['renewal']}")


if __name__ == "__main__":
    main()
