"""The public catalogue with 5,000 upcoming sessions and 100,000 bookings: the home page,
a filtered catalogue page and session pages at concurrency 16. Gunicorn + PostgreSQL +
Redis; the load comes from this process (asyncio + aiohttp).

Reports requests/s, p50/p99 and the number of SQL queries each page makes (counted
in-process with Django's test client, on two different pages of each kind: the count
must not depend on the data).

    .venv/bin/python bench/catalogue.py [--requests 3000] [--concurrency 16] [--runs 3]
"""

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data  # noqa: E402
from common import CORES, gunicorn, latency_line, percentile, run_load  # noqa: E402


def page_kinds():
    from django.utils import timezone

    from apps.sessions.models import Course, CourseSession, Location

    upcoming = list(CourseSession.objects.filter(starts_at__gt=timezone.now())
                    .values_list("pk", flat=True))
    course = Course.objects.order_by("pk").first()
    location = Location.objects.order_by("pk").first()
    rng = random.Random(7)
    return {
        "home /": lambda i: "/",
        "filtered catalogue": lambda i: (f"/?course={course.slug}&location={location.pk}"
                                         f"&page={1 + i % 3}"),
        "session page": lambda i: f"/sessions/{rng.choice(upcoming)}/",
    }


def query_counts(kinds) -> dict:
    """Queries per request for each kind: two different pages rendered afresh, then the
    second again (the catalogue's session list then comes from the cache)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.sessions.catalogue_cache import _bump

    client = Client()
    counts = {}
    for name, url_of in kinds.items():
        seen = []
        for i, fresh in ((0, True), (1, True), (1, False)):
            if fresh:
                _bump()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url_of(i))
            assert response.status_code == 200, (url_of(i), response.status_code)
            seen.append(len(queries.captured_queries))
        counts[name] = seen
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per page kind and run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    env = data.ensure(rebuild=args.rebuild)
    from apps.sessions.models import CourseSession

    kinds = page_kinds()
    counts = query_counts(kinds)
    print(f"catalogue: {CourseSession.objects.count():,} sessions, concurrency "
          f"{args.concurrency}, {args.requests} requests per page and run, gunicorn "
          f"{args.workers} workers, {CORES} cores")
    results = {name: [] for name in kinds}
    with gunicorn(env, workers=args.workers) as base:
        async def warm(http, i):
            for url_of in kinds.values():
                async with http.get(base + url_of(i)) as response:
                    await response.read()
        run_load(warm, 50, 8)
        for run in range(1, args.runs + 1):
            for name, url_of in kinds.items():
                async def get(http, i, url_of=url_of):
                    import time
                    began = time.perf_counter()
                    async with http.get(base + url_of(i)) as response:
                        await response.read()
                    return response.status, (time.perf_counter() - began) * 1000

                elapsed, answers = run_load(get, args.requests, args.concurrency)
                latencies = [ms for _, ms in answers]
                bad = sum(1 for status, _ in answers if status != 200)
                figures = {"rps": len(answers) / elapsed,
                           "p50": statistics.median(latencies),
                           "p99": percentile(latencies, 99), "errors": bad}
                results[name].append(figures)
                print(f"run {run} {name:<20} {figures['rps']:6.0f} req/s  "
                      f"{latency_line(latencies)}  non-200: {bad}")
    print("medians of runs:")
    failed = False
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["p50"] for r in runs)
        p99 = statistics.median(r["p99"] for r in runs)
        failed |= any(r["errors"] for r in runs)
        print(f"  {name:<20} {rps:6.0f} req/s  p50 {p50:5.1f} ms  p99 {p99:5.1f} ms  "
              f"queries {counts[name][0]} / {counts[name][1]} / {counts[name][2]} (page a, "
              f"page b, page b again)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
