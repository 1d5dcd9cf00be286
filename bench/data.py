"""The big data set the catalogue and staff benchmarks share (database portal_bench_big):
~3 years of history (2,000 past sessions with bookings, payments, failed attempts,
refunds and certificates) and 5,000 upcoming sessions over the next year whose seat
counters equal their bookings, 100,000 bookings in all. Built once with bulk_create
(about a minute) and kept; `--rebuild` on a benchmark drops it.
"""

import random
import time
from contextlib import contextmanager
from datetime import timedelta

from common import bench_env, prepare_database, psql, setup_django

DB_NAME = "portal_bench_big"
SEED = 20261122
UPCOMING = 5_000
PAST = 2_000


def ensure(total_bookings: int = 100_000, *, rebuild: bool = False) -> dict:
    """Set Django up on the big data set, building it first if it is not there."""
    env = bench_env(DB_NAME)
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") == "1"  # noqa: S608
    prepare_database(env, drop=rebuild)
    setup_django(env)
    from apps.bookings.models import Booking

    if rebuild or not exists or not Booking.objects.exists():
        print(f"filling {DB_NAME}: {PAST:,} past and {UPCOMING:,} upcoming sessions, "
              f"{total_bookings:,} bookings ...")
        fill(total_bookings)
    return env


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


def fill(total_bookings: int) -> None:  # noqa: C901
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
        for n in range(PAST + UPCOMING):
            if n < PAST:  # the last 1,000 days
                starts = now - timedelta(days=1000) + timedelta(days=998 * n / PAST)
            else:  # the next year, from tomorrow
                starts = now + timedelta(days=1 + 364 * (n - PAST) / UPCOMING)
            starts = starts.replace(hour=9, minute=0, second=0, microsecond=0)
            course = rng.choice(courses)
            capacity = rng.choice((12, 16, 20, 24))
            sessions.append(CourseSession(
                course=course, trainer=rng.choice(trainers), location=rng.choice(locations),
                starts_at=starts, ends_at=starts + timedelta(hours=6), capacity=capacity,
                seats_taken=0 if starts > now else rng.randint(capacity // 2, capacity),
                price=course.price,
                status="cancelled" if starts <= now and rng.random() < 0.03 else "scheduled",
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

        def book(n, session, status, seats, created):
            bookings.append(Booking(
                reference=f"BN-{n:07d}", purchaser=rng.choice(customers),
                session=session, status=status, seats=seats, unit_price=session.price,
                total_amount=session.price * seats, created_at=created, updated_at=created,
                paid_at=created + timedelta(minutes=3) if status not in
                ("pending", "expired") else None,
            ))

        # Upcoming sessions: up to two thirds full; the counter equals the paid seats.
        for session in sessions[PAST:]:
            target = rng.randint(0, session.capacity * 2 // 3)
            while session.seats_taken < target and len(bookings) < total_bookings // 4:
                seats = min(rng.choice((1, 1, 1, 2, 3)), target - session.seats_taken)
                status = rng.choice(["paid"] * 9 + ["cancelled"])
                if status == "paid":
                    session.seats_taken += seats
                book(len(bookings), session, status, seats,
                     now - timedelta(minutes=rng.randint(1, 60 * 24 * 45)))
        CourseSession.objects.bulk_update(sessions[PAST:], ["seats_taken"], batch_size=5000)
        while len(bookings) < total_bookings:
            session = rng.choice(past_sessions)
            created = session.starts_at - timedelta(minutes=rng.randint(60, 60 * 24 * 60))
            book(len(bookings), session, rng.choice(statuses), rng.choice((1, 1, 1, 1, 2, 3)),
                 created)
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


