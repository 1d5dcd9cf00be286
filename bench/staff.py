"""The staff pages with 100,000 bookings: the business dashboard and the bookings,
payments and customers changelists, cold and warm. PostgreSQL + Redis, in-process
(Django's test client renders the whole page: middleware, admin, templates).

Cold: the dashboard's cache entry deleted / a changelist the first time for a new staff
browser session. Warm: the same request again. 3 runs each, medians printed.

    .venv/bin/python bench/staff.py [--bookings 100000] [--rebuild]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data  # noqa: E402


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
    data.ensure(args.bookings, rebuild=args.rebuild)

    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from apps.bookings.models import Booking
    from apps.operations.dashboard import (
        dashboard_cache_clear,
        dashboard_figures,
        dashboard_figures_cached,
    )
    from apps.payments.models import Payment
    from apps.users.models import User

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
    # Plain static storage: no manifest needed in-process.
    storages = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    bookings = reverse("admin:bookings_booking_changelist")
    pages = {
        "dashboard": reverse("staff-dashboard"),
        "bookings changelist": bookings,
        "bookings, status=paid": bookings + "?status__exact=paid",
        "bookings, search an email": bookings + "?q=bench.customer1234@example.com",
        "bookings, search a name": bookings + "?q=Customer+1234",
        "bookings, page 200": bookings + "?p=200",
        "payments changelist": reverse("admin:payments_payment_changelist"),
        "customers changelist": reverse("admin:users_user_changelist"),
    }
    figures = {}
    with override_settings(STORAGES=storages):
        for name, url in pages.items():
            cold_ms, warm_ms, query_counts = [], [], []
            for _ in range(3):
                client = Client()  # a new staff browser session: nothing cached for it
                client.force_login(admin)
                dashboard_cache_clear()
                began = time.perf_counter()
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url)
                cold_ms.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, (url, response.status_code)
                query_counts.append(len(queries.captured_queries))
                began = time.perf_counter()
                response = client.get(url)
                warm_ms.append((time.perf_counter() - began) * 1000)
            figures[name] = (cold_ms, warm_ms, query_counts)

    def show(name, runs):
        print(f"  {name:<34} " + " / ".join(f"{ms:7.1f}" for ms in runs)
              + f" ms   (median {statistics.median(runs):.1f})")

    print(f"PostgreSQL + Redis, {os.cpu_count()} cores, 3 runs each:")
    show("dashboard_figures() cold", cold_runs)
    show("dashboard_figures_cached() warm", warm_runs)
    print("whole pages (test client), cold / warm, 3 runs each:")
    for name, (cold_ms, warm_ms, query_counts) in figures.items():
        show(f"{name} cold ({query_counts[0]} queries)", cold_ms)
        show(f"{name} warm", warm_ms)
    print("  slowest queries of the last cold run:")
    for ms, sql in per_query[:4]:
        print(f"    {ms:6.1f} ms  {sql}")

    figures = dashboard_figures_cached()
    print("dashboard figures:")
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
