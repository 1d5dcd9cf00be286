"""Stripe delivers a storm of webhooks after an outage: 2,000 signed
`payment_intent.succeeded` deliveries for 1,000 pending bookings (two distinct events per
payment, shuffled), at concurrency 32, to gunicorn; a Celery worker with two processes
works through the backlog. PostgreSQL + Redis (cache and broker).

Reports accepted deliveries/s and their latency, the time until every payment is
processed (from the first delivery and from the last), and checks the database: every
booking paid once, every event processed, exactly one confirmation email per booking to
its purchaser (and one per other attendee), purchaser totals counted once.

    .venv/bin/python bench/webhook_storm.py [--payments 1000] [--concurrency 32] [--runs 3]
"""

import argparse
import hashlib
import hmac
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CORES,
    SERVER_PIDS,
    ServerMeter,
    bench_env,
    celery_worker,
    gunicorn,
    latency_line,
    percentile,
    prepare_database,
    run_load,
    setup_django,
)

DB_NAME = "portal_bench_webhooks"
SECRET = "whsec_bench"  # noqa: S105 (a local benchmark's own signing secret)


def pending_bookings(run_tag: str, count: int):
    """`count` pending bookings, one seat each, each with a card payment awaiting Stripe's
    word (the customer has paid; the webhook is what confirms it)."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from apps.bookings.models import Attendee, Booking
    from apps.payments.models import Payment
    from apps.sessions.models import Course, CourseSession, Location
    from apps.users.models import User

    now = timezone.now()
    course, _ = Course.objects.get_or_create(slug="storm", defaults={"title": "Storm",
                                                                     "price": 9500})
    location, _ = Location.objects.get_or_create(
        name="Storm room", defaults={"address_line1": "1 St", "city": "X", "postcode": "X"})
    trainer, _ = User.objects.get_or_create(email="storm.trainer@example.com",
                                            defaults={"role": "instructor"})
    with transaction.atomic():
        session = CourseSession.objects.create(
            course=course, location=location, trainer=trainer,
            starts_at=now + timedelta(days=20), ends_at=now + timedelta(days=20, hours=6),
            capacity=count, seats_taken=count, price=9500)
        buyers = User.objects.bulk_create([
            User(email=f"storm{run_tag}.{n}@example.com", first_name="Storm",
                 last_name=f"Buyer {n}", password="!")  # noqa: S106
            for n in range(count)])
        bookings = Booking.objects.bulk_create([
            Booking(reference=f"BS{run_tag[-3:]}{n:05d}"[:12], purchaser=buyer, session=session,
                    seats=1, unit_price=9500, total_amount=9500,
                    hold_expires_at=now + timedelta(minutes=15))
            for n, buyer in enumerate(buyers)])
        Attendee.objects.bulk_create([
            Attendee(booking=booking, user=booking.purchaser, name="Storm Buyer",
                     email=booking.purchaser.email) for booking in bookings])
        payments = Payment.objects.bulk_create([
            Payment(booking=booking, user=booking.purchaser, amount=9500,
                    status=Payment.Status.PROCESSING, card_brand="visa", card_last4="4242",
                    stripe_payment_intent_id=f"pi_storm{run_tag}_{n}")
            for n, booking in enumerate(bookings)])
    return session, payments


def deliveries(payments) -> list[bytes]:
    events = []
    for payment in payments:
        for copy in ("a", "b"):
            events.append(json.dumps({
                "id": f"evt_{payment.stripe_payment_intent_id}_{copy}",
                "object": "event", "type": "payment_intent.succeeded",
                "created": int(time.time()), "api_version": "2025-01-27",
                "data": {"object": {
                    "id": payment.stripe_payment_intent_id, "object": "payment_intent",
                    "amount": payment.amount, "amount_received": payment.amount,
                    "currency": "gbp", "status": "succeeded", "payment_method": "pm_storm",
                    "metadata": {"payment_id": str(payment.pk)}}},
            }).encode())
    random.Random(11).shuffle(events)
    return events


def signature(payload: bytes) -> str:
    stamp = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256)
    return f"t={stamp},v1={digest.hexdigest()}"


def one_run(run: int, base: str, count: int, concurrency: int) -> dict:
    from django.db.models import Count, Q

    from apps.bookings.models import Booking
    from apps.core.models import Communication
    from apps.payments.models import Payment, StripeEvent

    tag = f"{run}{uuid.uuid4().hex[:5]}"
    session, payments = pending_bookings(tag, count)
    bodies = deliveries(payments)
    url = base + "/webhooks/stripe/"

    async def deliver(http, i):
        body = bodies[i]
        began = time.perf_counter()
        async with http.post(url, data=body, headers={
                "Stripe-Signature": signature(body), "Content-Type": "application/json"}) as r:
            await r.read()
        return r.status, (time.perf_counter() - began) * 1000, time.perf_counter()

    from django.db import connection

    connection.close()  # the meter counts the deployment's transactions only
    meter = ServerMeter(DB_NAME, web=SERVER_PIDS["web"], celery=SERVER_PIDS.get("celery"))
    meter.start()
    started = time.perf_counter()
    elapsed, answers = run_load(deliver, len(bodies), concurrency)
    accepted = sum(1 for status, _, _ in answers if status == 200)
    last_delivery = max(at for _, _, at in answers)
    mine = Payment.objects.filter(booking__session=session)
    events = StripeEvent.objects.filter(object_id__startswith=f"pi_storm{tag}_")
    deadline = time.perf_counter() + 120
    polls = 0  # the benchmark's own queries, each a transaction: not the server's
    while time.perf_counter() < deadline:
        done = mine.filter(status=Payment.Status.SUCCEEDED).count()
        processed = events.filter(status=StripeEvent.Status.PROCESSED).count()
        polls += 2
        if done == count and processed == len(bodies):
            break
        time.sleep(0.1)
    finished = time.perf_counter()
    emails = Communication.objects.filter(booking__session=session,
                                          kind=Communication.Kind.BOOKING_CONFIRMATION)
    per_booking = emails.values("booking_id").annotate(n=Count("id"))
    sent = emails.filter(status=Communication.Status.SENT).count()
    # Emails are sent by their own tasks after the payment commits: wait for the last.
    polls += 1
    while sent < count and time.perf_counter() < deadline:
        time.sleep(0.1)
        sent = emails.filter(status=Communication.Status.SENT).count()
        polls += 1
    meter.stop()
    meter.xacts -= polls
    paid = Booking.objects.filter(session=session, status="paid").count()
    counted_twice = Booking.objects.filter(session=session).filter(
        ~Q(purchaser__total_bookings=1)).count()
    latencies = [ms for _, ms, _ in answers]
    exact = (accepted == len(bodies) and paid == count == done
             and processed == len(bodies) and all(row["n"] == 1 for row in per_booking)
             and len(per_booking) == count and sent == count and counted_twice == 0)
    figures = {
        "accepted_per_s": accepted / elapsed, "p50": statistics.median(latencies),
        "p99": percentile(latencies, 99), "backlog_s": finished - started,
        "after_last_s": finished - last_delivery, "exact": exact,
    }
    print(f"run {run}: {accepted}/{len(bodies)} accepted in {elapsed:.2f} s = "
          f"{figures['accepted_per_s']:.0f}/s, {latency_line(latencies)}")
    print(f"  every payment processed {figures['backlog_s']:.1f} s after the first delivery "
          f"({figures['after_last_s']:.1f} s after the last); paid {paid}/{count}, events "
          f"processed {processed}/{len(bodies)}, confirmation emails {emails.count()} "
          f"({sent} sent, max per booking {max((r['n'] for r in per_booking), default=0)}), "
          f"totals counted twice {counted_twice} -> {'exact' if exact else 'MISMATCH'}")
    print(f"  {meter.line(count, 'payment')} (intake and processing of its 2 deliveries; "
          "postgres: the backends of this database, the benchmark's polling one included)")
    return {**figures, **meter.figures(count)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--celery", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per Celery worker process (1: prefork children)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = bench_env(DB_NAME, STRIPE_WEBHOOK_SECRET=SECRET, CELERY_TASK_ALWAYS_EAGER="0")
    prepare_database(env)
    setup_django(env)
    print(f"webhook storm: {args.payments * 2} deliveries for {args.payments} payments, "
          f"concurrency {args.concurrency}, gunicorn {args.workers} workers, Celery "
          f"{args.celery} processes x {args.threads} threads, {CORES} cores")
    runs = []
    worker = celery_worker(env, processes=args.celery, threads=args.threads)
    with worker, gunicorn(env, workers=args.workers) as base:
        for run in range(1, args.runs + 1):
            runs.append(one_run(run, base, args.payments, args.concurrency))
    print("medians of runs: " + ", ".join(
        f"{key} {statistics.median(r[key] for r in runs):.1f}"
        for key in ("accepted_per_s", "p50", "p99", "backlog_s", "after_last_s", "cpu_web",
                    "cpu_celery", "cpu_postgres", "cpu_total", "xacts") if key in runs[0]))
    return 0 if all(r["exact"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
