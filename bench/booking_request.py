"""How long does the booking POST take? Gunicorn + PostgreSQL + Redis on this machine.

Starts gunicorn on a free loopback port against a bench database, then N clients each
fetch the booking form (for the CSRF cookie) and submit one booking (the real POST that
takes the seat and creates the pending booking), at the given concurrency. Prints latency
percentiles for the POST and checks in the database that seats taken == bookings made.

    .venv/bin/python bench/booking_request.py [--clients 300] [--concurrency 8]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values, pct):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--capacity", type=int, default=None,
                        help="seats on the session (default: one per client); fewer seats "
                             "than clients is the hot-session run: the rest must be told "
                             "'sold out'")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL",
                                       "postgres://postgres@127.0.0.1:5432/portal_bench"),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "BOOKING_RATE_LIMIT": "100000/m",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        # Plain HTTP on loopback: the cookies cannot be Secure-only here.
        "SECURE_COOKIES": "0",
    }
    os.environ.update(env)
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                    "CREATE DATABASE portal_bench"], capture_output=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,
                   env=env, check=True)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from apps.sessions.models import Course, CourseSession, Location
    from apps.users.models import User

    course, _ = Course.objects.get_or_create(slug="bench-course",
                                             defaults={"title": "Bench", "price": 9500})
    location, _ = Location.objects.get_or_create(
        name="Bench room", defaults={"address_line1": "1 Bench St", "city": "X", "postcode": "X"})
    trainer, _ = User.objects.get_or_create(email="bench.trainer@example.com",
                                            defaults={"role": "instructor"})
    start = timezone.now() + timedelta(days=30)
    session = CourseSession.objects.create(
        course=course, location=location, trainer=trainer, starts_at=start,
        ends_at=start + timedelta(hours=6), capacity=args.capacity or args.clients, price=9500)

    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(args.workers), "--log-level", "warning"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(base + "/healthz", timeout=5)
            break
        except requests.RequestException:
            time.sleep(0.1)

    url = f"{base}/sessions/{session.pk}/book/"

    def one(i):
        http = requests.Session()
        form = http.get(url, timeout=10)
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        if not found:
            # The session page already says so: no form to fill in.
            sold = "sold out" in form.text.lower()
            return None, "sold out" if sold else form.status_code
        token = found.group(1)
        data = {
            "csrfmiddlewaretoken": token, "seats": "1", "first_name": "Bench",
            "last_name": f"Client{i}", "email": f"bench{i}.{uuid.uuid4().hex[:6]}@example.com",
            "submission_token": str(uuid.uuid4()),
            "attendee_1_name": f"Bench Client{i}",
            "attendee_1_email": f"att{i}.{uuid.uuid4().hex[:6]}@example.com",
        }
        began = time.perf_counter()
        response = http.post(url, data=data, headers={"Referer": url}, allow_redirects=False,
                             timeout=30)
        if response.status_code in (200, 409) and (
                "sold out" in response.text.lower() or "seat left" in response.text.lower()
                or "seats left" in response.text.lower()):
            return time.perf_counter() - began, "sold out"
        return time.perf_counter() - began, response.status_code

    try:
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(pool.map(one, range(args.clients)))
        elapsed = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(timeout=10)

    latencies = [seconds * 1000 for seconds, status in results if status == 302]
    all_latencies = [seconds * 1000 for seconds, status in results
                     if seconds is not None and status in (302, "sold out")]
    sold_out = [status for _, status in results if status == "sold out"]
    errors = [status for _, status in results if status not in (302, "sold out")]
    session.refresh_from_db()
    made = session.bookings.count()
    print(f"booking POST, {args.clients} clients, concurrency {args.concurrency}, "
          f"gunicorn {args.workers} workers, PostgreSQL + Redis, {os.cpu_count()} cores")
    print(f"  capacity {session.capacity}: booked {len(latencies)}  told sold out {len(sold_out)}"
          f"  errors {len(errors)} {sorted(set(map(str, errors)))[:5]}")
    print(f"  throughput {len(latencies) / elapsed:.1f} bookings/s, "
          f"{len(results) / elapsed:.1f} answered clients/s (GET form + POST)")
    if all_latencies:
        print(f"  POST latency ms (all answers): p50 {statistics.median(all_latencies):.1f}  "
              f"p95 {percentile(all_latencies, 95):.1f}  "
              f"p99 {percentile(all_latencies, 99):.1f}")
    print(f"  seats taken {session.seats_taken} == bookings {made}: "
          f"{'OK' if session.seats_taken == made == len(latencies) else 'MISMATCH'}")
    every_client_answered = not errors
    print(f"  every client got a booking or a clear sold-out answer: "
          f"{'yes' if every_client_answered else 'NO'}")
    good = session.seats_taken == made == len(latencies) and every_client_answered
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
