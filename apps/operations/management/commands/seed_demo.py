"""Believable demo data: courses, venues, trainers, sessions over the last three months and
the next three, bookings in every status made over the last weeks by people with real-looking
names, refunds, attendance and certificates (one renewed, one expiring soon), and a sold-out
session with a waiting list whose first entry has been offered a freed seat. Everything goes
through the same services staff and customers use. Safe to run again: what exists is kept,
nothing is duplicated.

Not in the demo: disputes. Stripe opens them on card payments, and the demo's payments are
bank transfers (no PaymentIntent for a dispute to name); a card payment needs the fake
Stripe server running, which seed_demo does not assume."""

import random
from datetime import datetime, time, timedelta

from allauth.account.models import EmailAddress
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Min, Q
from django.test.utils import override_settings
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.bookings.services import (
    AttendeeInput,
    BookingRequest,
    booking_create,
    booking_transition,
)
from apps.bookings.waitlist import waitlist_join, waitlist_offer_free_seats
from apps.certificates.attendance import attendance_record
from apps.certificates.services import certificate_issue
from apps.companies.models import Company, CompanyContact
from apps.companies.services import company_contact_link, company_link_request_create
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.payments.on_account import booking_on_account_create, on_account_payment_record
from apps.payments.services import payment_record_manual
from apps.pricing.models import DiscountCode, GroupDiscount
from apps.pricing.services import discount_code_save, group_discount_save
from apps.refunds.cancellation import booking_cancel
from apps.refunds.models import Refund
from apps.refunds.services import refund_create
from apps.sessions.catalogue_cache import catalogue_changed
from apps.sessions.models import Course, CourseSession, Location
from apps.users.models import User
from apps.users.services import user_change_role, user_get_or_create

# Discount codes (and which demo bookings, by their index in the plan, use one): paid
# bookings with a code, a four-seat booking with the group price too, a partly refunded
# one, and an expired hold that gave its use back.
DEMO_CODES = {
    "WELCOME10": {"description": "Demo: newsletter sign-up", "percent": 10, "max_uses": 50},
    "SAVE25": {"description": "Demo: £25 off a booking", "kind": "fixed", "amount": 2500,
               "max_uses": 5},
}
DEMO_CODE_USES = {1: "WELCOME10", 6: "WELCOME10", 12: "SAVE25", 15: "SAVE25"}

COURSES = [
    ("Emergency First Aid at Work", "emergency-first-aid-at-work", 9500, 6, 36,
     "One-day HSE-compliant course for workplace first aiders.",
     "CPR, choking, bleeding, shock and the recovery position, with lots of hands-on practice "
     "on manikins. Ideal for low-risk workplaces."),
    ("First Aid at Work (3 days)", "first-aid-at-work", 29500, 18, 36,
     "The full three-day qualification for higher-risk workplaces.",
     "Everything in Emergency First Aid plus fractures, burns, poisoning, head and spinal "
     "injuries, and managing an incident."),
    ("Fire Marshal Training", "fire-marshal", 8500, 4, 36,
     "Become your building's fire warden.",
     "Fire science, extinguisher types with live practice, evacuation planning and your legal "
     "duties as a marshal."),
    ("Manual Handling", "manual-handling", 6500, 3, 36,
     "Lift, carry and move loads safely.",
     "Risk assessment with TILE, safe lifting technique and practical exercises with real loads."),
    ("Paediatric First Aid", "paediatric-first-aid", 14500, 12, 36,
     "Ofsted-compliant first aid for people who care for children.",
     "Infant and child CPR, choking, allergies, febrile seizures and common childhood injuries."),
    ("Mental Health First Aid", "mental-health-first-aid", 19500, 12, None,
     "Spot the signs and start the conversation.",
     "Recognise common mental health issues, offer initial support and guide a person to help."),
]

LOCATIONS = [
    ("Riverside Training Centre", "12 Wharf Road", "London", "N1 7GR",
     "Five minutes' walk from Angel station. Step-free access."),
    ("Castle Court Suite", "3 Castle Street", "Manchester", "M3 4LZ",
     "Opposite Deansgate-Castlefield tram stop. Parking nearby."),
    ("Harbour House", "88 Harbour Way", "Bristol", "BS1 5TY",
     "Ten minutes from Temple Meads; the room is on the first floor, lift available."),
]

INSTRUCTORS = [
    ("sam.patel@example.com", "Sam", "Patel"),
    ("alex.morgan@example.com", "Alex", "Morgan"),
    ("jo.williams@example.com", "Jo", "Williams"),
]

CUSTOMERS = [
    ("priya.shah@example.com", "Priya", "Shah", "Shah Logistics Ltd"),
    ("tom.baker@example.com", "Tom", "Baker", ""),
    ("emma.clarke@example.com", "Emma", "Clarke", "Little Acorns Nursery"),
    ("liam.oconnor@example.com", "Liam", "O'Connor", "O'Connor Builders"),
    ("grace.lee@example.com", "Grace", "Lee", ""),
    ("noah.evans@example.com", "Noah", "Evans", "Evans & Co Accountants"),
]

# Little Acorns Nursery's staff, booked two by two on the nursery's account.
NURSERY_STAFF = ["Lucy Harper", "Zara Ahmed", "Megan Price", "Ruth Bennett", "Chloe Walsh",
                 "Anya Kowalski", "Freya Dunn", "Holly Marsh"]

# Each customer's colleagues, in order, for the seats of their group bookings.
TEAMS = {
    "priya.shah@example.com": ["Daniel Okafor", "Hannah Wright", "Mei Lin"],
    "tom.baker@example.com": ["Rosie Baker", "Callum Fraser", "Ayesha Malik"],
    "emma.clarke@example.com": ["Sophie Turner", "Jade Campbell", "Olivia Hughes"],
    "liam.oconnor@example.com": ["Siobhan O'Neill", "Kieran Doyle", "Marek Nowak"],
    "grace.lee@example.com": ["Ben Carter", "Chloe Adams", "Ravi Kumar"],
    "noah.evans@example.com": ["Isla Morgan", "Ethan Price", "Fatima Begum"],
}
# Who is waiting for the sold-out session: (name, email, seats, days ago they joined).
WAITING = [
    ("Marcus Reid", "marcus.reid@example.com", 1, 9),
    ("Ellie Thompson", "ellie.thompson@example.com", 2, 6),
    ("Hamza Ali", "hamza.ali@example.com", 1, 2),
]

ADMIN_EMAIL = "admin@example.com"
# Demo only: seed_demo refuses to run with DEBUG off.
INSTRUCTOR_PASSWORD = "portal-demo-trainer"  # noqa: S105  # pragma: allowlist secret
START_TIMES = [time(9, 0), time(9, 30), time(13, 0)]
# (course slug, months ago): runs from three years ago whose certificates tell a story.
OLD_RUNS = [("first-aid-at-work", 37), ("emergency-first-aid-at-work", 34)]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--admin-password",
            default="portal-demo-admin",
            help="Password for the staff login admin@example.com (only set when it is created).",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off (never on a real customer database).",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not settings.TESTING and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo data with DEBUG off; pass --allow-production if this "
                "really is a demo database."
            )
        rng = random.Random(20261122)
        now = timezone.now()
        with transaction.atomic():
            admin, admin_created = self._admin(options["admin_password"])
            courses = self._courses()
            locations = self._locations()
            instructors = self._instructors(admin)
            # Staff sign in with a password and a second factor; their addresses are known.
            for person in (admin, *instructors):
                EmailAddress.objects.update_or_create(
                    user=person, email=person.email,
                    defaults={"verified": True, "primary": True})
            customers = [
                user_get_or_create(email=email, first_name=first, last_name=last,
                                   company_name=company)
                for email, first, last, company in CUSTOMERS
            ]
            sessions_made = self._sessions(rng, now, courses, locations, instructors)
            self._discounts(admin, now)
            catalogue_changed()  # the courses, venues and sessions written above
        # The demo customers are fictional: their emails are recorded in the Communication
        # log like any other, but delivered nowhere.
        with override_settings(MAILERS={"default": {
                "BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}):
            bookings_made = self._bookings(rng, now, customers, admin)

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"  courses {Course.objects.count()}, locations {Location.objects.count()}, "
            f"sessions {CourseSession.objects.count()} ({sessions_made} new), "
            f"bookings {Booking.objects.count()} ({bookings_made} new), "
            f"users {User.objects.count()}"
        )
        # Each login on one line with its own password, so neither reads as the other's.
        admin_password = (options["admin_password"] if admin_created else
                          "(already existed: its password was left unchanged)")
        self.stdout.write(f"  Staff login at /admin/: {ADMIN_EMAIL} / {admin_password} "
                          "(then an authenticator app: set it up at the first sign-in)")
        self.stdout.write(f"  Instructor login at /admin/ (sees only their sessions): "
                          f"{INSTRUCTORS[0][0]} / {INSTRUCTOR_PASSWORD}")

    def _admin(self, password):
        admin = User.objects.filter(email=ADMIN_EMAIL).first()
        if admin:
            return admin, False
        admin = User.objects.create_superuser(
            email=ADMIN_EMAIL, password=password, first_name="Avery", last_name="Admin"
        )
        return admin, True

    def _courses(self):
        courses = []
        for title, slug, price, hours, validity, summary, description in COURSES:
            course, _ = Course.objects.get_or_create(
                slug=slug,
                defaults=dict(
                    title=title,
                    price=price,
                    duration_hours=hours,
                    validity_months=validity,
                    summary=summary,
                    description=description,
                    what_to_bring="Comfortable clothes, a pen, and photo ID for the register.",
                ),
            )
            courses.append(course)
        return courses

    def _locations(self):
        return [
            Location.objects.get_or_create(
                name=name,
                defaults=dict(address_line1=line1, city=city, postcode=postcode,
                              directions=directions),
            )[0]
            for name, line1, city, postcode, directions in LOCATIONS
        ]

    def _instructors(self, admin):
        instructors = []
        for email, first, last in INSTRUCTORS:
            user = user_get_or_create(email=email, first_name=first, last_name=last)
            if user.role != User.Role.INSTRUCTOR:
                user = user_change_role(user=user, role=User.Role.INSTRUCTOR, actor=admin)
                user.set_password(INSTRUCTOR_PASSWORD)
                user.save(update_fields=["password"])
            instructors.append(user)
        return instructors

    def _sessions(self, rng, now, courses, locations, instructors):
        if CourseSession.objects.filter(course__in=courses).exists():
            return 0
        tz = timezone.get_current_timezone()
        today = timezone.localdate(now)
        made = 0

        def add(day, course, location):
            start_at = datetime.combine(day, rng.choice(START_TIMES), tzinfo=tz)
            hours = min(float(course.duration_hours), 7)
            CourseSession.objects.create(
                course=course,
                location=location,
                trainer=rng.choice(instructors),
                starts_at=start_at,
                ends_at=start_at + timedelta(hours=hours),
                capacity=rng.choice([8, 10, 12, 12, 16]),
                price=course.price,
                currency=course.currency,
            )

        # The last 90 days (completed, no-show, refunded bookings) and 90 days ahead.
        for day_offset in list(range(-90, 0, 4)) + list(range(2, 92, 2)):
            day = today + timedelta(days=day_offset)
            if day.weekday() >= 5:
                continue
            course = courses[(day_offset // 2) % len(courses)]  # every course in turn
            for location in rng.sample(locations, k=rng.choice([1, 1, 2])):
                add(day, course, location)
                made += 1
        # Two runs from about three years ago, for the certificates story: one whose
        # certificates have expired (and a holder who renewed), one expiring soon.
        by_slug = {course.slug: course for course in courses}
        for course_slug, months_ago in OLD_RUNS:
            add(_weekday_on_or_before(today - relativedelta(months=months_ago)),
                by_slug[course_slug], locations[0])
            made += 1
        return made

    def _discounts(self, admin, now):
        """Two codes and a group price, made through the services staff use (logged)."""
        if not GroupDiscount.objects.exists():
            group_discount_save(rule=GroupDiscount(min_seats=4, percent=10), actor=admin)
        for code, fields in DEMO_CODES.items():
            if not DiscountCode.objects.filter(code__iexact=code).exists():
                discount_code_save(code=DiscountCode(
                    code=code, valid_until=now + timedelta(days=90), **fields), actor=admin)

    def _bookings(self, rng, now, customers, admin):
        demo_emails = [c.email for c in customers]
        if Booking.objects.filter(purchaser__email__in=demo_emails).exists():
            return 0
        sessions = CourseSession.objects.select_related("course").order_by("starts_at", "pk")
        old_cutoff = now - timedelta(days=365)
        old = {session.course.slug: session
               for session in sessions.filter(starts_at__lt=old_cutoff)}
        past = list(sessions.filter(starts_at__gte=old_cutoff, starts_at__lt=now))
        future = list(sessions.filter(starts_at__gte=now))
        plan = (
            # (session pool, outcome, seats)
            [(future, "paid", n) for n in (1, 2, 1, 3, 1, 2, 4, 1, 1, 2, 1, 1)]
            + [(future, "partly_refunded", 2)]
            + [(future, Booking.Status.PENDING, 1), (future, Booking.Status.PENDING, 2)]
            + [(future, Booking.Status.EXPIRED, 1), (future, Booking.Status.CANCELLED, 2)]
            + [(future, Booking.Status.REFUNDED, 1)]
            + [(past, Booking.Status.COMPLETED, n) for n in (1, 2, 1, 3, 1, 2)]
            + [(past, Booking.Status.NO_SHOW, 1), (past, Booking.Status.REFUNDED, 1)]
            # paid and waiting for staff to mark attendance (then certificates are issued)
            + [(past[-2:], "paid", 2), (past[-2:], "paid", 1)]
        )
        made = 0
        for index, (pool, outcome, seats) in enumerate(plan):
            session = pool[(index * 3) % len(pool)]
            purchaser = customers[index % len(customers)]
            # Future sessions were booked over the last weeks; past ones 1-3 weeks before
            # they ran. A booking still pending is holding its seats right now.
            if outcome == Booking.Status.PENDING:
                booked_at = now
            elif session.starts_at > now:
                booked_at = min(now - timedelta(days=(index * 5) % 60, hours=index),
                                session.starts_at - timedelta(days=1))
            else:
                booked_at = session.starts_at - timedelta(days=7 + (index * 3) % 14)
            self._book(session=session, purchaser=purchaser, seats=seats, outcome=outcome,
                       admin=admin, booked_at=booked_at, now=now,
                       vegetarian=index % 5 == 0, code=DEMO_CODE_USES.get(index, ""))
            made += 1
        made += self._certificate_story(old=old, future=future, customers=customers,
                                        admin=admin, now=now)
        made += self._waiting_list_story(future=future, customers=customers, admin=admin,
                                         now=now)
        made += self._company_story(future=future, customers=customers, admin=admin, now=now)
        _demo_backdate_joining(customers)
        return made

    def _company_story(self, *, future, customers, admin, now):
        """Emma books her nursery's staff on Little Acorns Nursery's account (approved for
        invoicing, PO numbers required): one booking paid by bank transfer, one partly
        paid, one overdue, one just made. Noah has asked to book for his firm."""
        emma, noah = customers[2], customers[5]
        company = Company.objects.create(
            name="Little Acorns Nursery", billing_address="4 Orchard Lane\nYork\nYO1 7HH",
            vat_number="GB 123 4567 89", purchase_order_required=True, payment_terms_days=30,
            credit_limit=500000, approved_for_invoice=True)
        company_contact_link(company=company, user=emma, actor=admin,
                             role=CompanyContact.Role.ADMIN)
        company_link_request_create(user=noah, company_name="Evans & Co Accountants",
                                    message="I run the office and book our training.")
        stories = [("paid", 45), ("partly_paid", 20), ("overdue", 40), ("unpaid", 0)]
        made = 0
        for number, (story, days_ago) in enumerate(stories, start=1):
            booked_at = now - timedelta(days=days_ago)
            staff = [AttendeeInput(name=name,
                                   email=f"{name.split()[0].lower()}@littleacorns.example")
                     for name in NURSERY_STAFF[(number - 1) * 2:number * 2]]
            for session in future[number * 2:] + future[:number * 2]:
                if session.seats_left < 2:
                    continue
                try:
                    booking = booking_on_account_create(request=BookingRequest(
                        session_id=session.pk, purchaser_email=emma.email,
                        purchaser_first_name=emma.first_name,
                        purchaser_last_name=emma.last_name, attendees=staff),
                        company_id=company.pk, purchase_order=f"LAN-PO-{1000 + number}",
                        actor=emma, now=booked_at)
                except DomainError:
                    continue
                break
            else:
                continue
            _demo_backdate(booking, booked_at)
            if story in ("paid", "partly_paid"):
                amount = booking.total_amount if story == "paid" else booking.total_amount // 2
                on_account_payment_record(booking_id=booking.pk, amount=amount, actor=admin,
                                          note="Demo: BACS from Little Acorns Nursery",
                                          now=min(now, booked_at + timedelta(days=25)))
            made += 1
        return made

    def _certificate_story(self, *, old, future, customers, admin, now):
        """Priya attended First Aid at Work three years ago; her certificate has expired
        and she has booked herself onto a coming session: a renewal. Tom's Emergency First
        Aid certificate expires within three months and he has not booked again yet."""
        made = 0
        renewer, lapsing = customers[0], customers[1]
        for slug, person in ((OLD_RUNS[0][0], renewer), (OLD_RUNS[1][0], lapsing)):
            session = old[slug]
            self._book(session=session, purchaser=person, seats=1,
                       outcome=Booking.Status.COMPLETED, admin=admin,
                       booked_at=session.starts_at - timedelta(days=14), now=now)
            made += 1
        renewal = next(s for s in future if s.course.slug == OLD_RUNS[0][0]
                       and not s.bookings.filter(attendees__user=renewer).exists())
        self._book(session=renewal, purchaser=renewer, seats=1, outcome="paid", admin=admin,
                   booked_at=now - timedelta(days=3), now=now)
        return made + 1

    def _waiting_list_story(self, *, future, customers, admin, now):
        """The smallest session two to five weeks ahead sold out to companies' group
        bookings; three people joined its waiting list; Grace cancelled her seat yesterday
        and the first in line, Marcus, was offered it (his offer is live: the seat is held
        for him). Ellie, wanting two, and Hamza are still waiting."""
        window = [s for s in future
                  if now + timedelta(days=14) <= s.starts_at <= now + timedelta(days=35)]
        session = min(window, key=lambda s: (s.capacity, s.starts_at, s.pk))
        session.refresh_from_db()
        made = 0
        groups = [c for c in customers if c.company_name]
        while session.seats_left > 1:
            buyer = groups[made % len(groups)]
            self._book(session=session, purchaser=buyer, seats=min(4, session.seats_left - 1),
                       outcome="paid", admin=admin, booked_at=now - timedelta(days=20 - made),
                       now=now)
            made += 1
            session.refresh_from_db()
        leaver = next(c for c in customers if c.email == "grace.lee@example.com")
        seat = self._book(session=session, purchaser=leaver, seats=1, outcome="paid",
                          admin=admin, booked_at=now - timedelta(days=12), now=now)
        for name, email, seats, days_ago in WAITING:
            waitlist_join(session_id=session.pk, name=name, email=email, seats=seats,
                          now=now - timedelta(days=days_ago))
        booking_cancel(booking_id=seat.pk, actor=admin, reason="Demo: moved to another job",
                       initiator=Refund.Initiator.CUSTOMER,
                       refund_amount=seat.total_amount, now=now - timedelta(days=1))
        # With a worker the cancellation's after-commit task makes the same offer: the
        # session lock makes it once, whichever comes first.
        waitlist_offer_free_seats(session_id=session.pk, now=now - timedelta(hours=3))
        return made + 1

    def _book(self, *, session, purchaser, seats, outcome, admin, booked_at, now,
              vegetarian=False, code=""):
        attendees = [AttendeeInput(name=purchaser.full_name, email=purchaser.email)]
        for name in TEAMS.get(purchaser.email, [])[:seats - 1]:
            first, _, last = name.partition(" ")
            attendees.append(AttendeeInput(
                name=name, email=f"{first}.{last.replace(chr(39), '')}@example.com".lower()))
        booking = booking_create(
            request=BookingRequest(
                session_id=session.pk,
                purchaser_email=purchaser.email,
                purchaser_first_name=purchaser.first_name,
                purchaser_last_name=purchaser.last_name,
                company_name=purchaser.company_name if seats > 1 else "",
                attendees=attendees,
                special_requirements="Vegetarian lunch, please." if vegetarian else "",
                discount_code=code,
            ),
            now=booked_at,
        )
        _demo_backdate(booking, booked_at)
        self._move_to(booking, outcome, admin, booked_at, now)
        booking.refresh_from_db()
        self.stdout.write(
            f"  {booking.reference}: {booking.status}, "
            f"{format_money(booking.total_amount, booking.currency)}"
        )
        return booking

    def _move_to(self, booking, outcome, admin, booked_at, now):
        """Take a new booking to its demo outcome through the services staff use."""
        if outcome == Booking.Status.PENDING:
            return
        if outcome == Booking.Status.EXPIRED:
            lapsed = booked_at + timedelta(minutes=settings.BOOKING_HOLD_MINUTES, seconds=1)
            booking_transition(booking_id=booking.pk, to=outcome, now=lapsed)
            return
        payment = payment_record_manual(booking=booking, actor=admin, now=booked_at,
                                        note="Demo: paid by bank transfer")
        if outcome == "partly_refunded":
            # A goodwill refund of a quarter: the booking stays paid.
            refund_create(payment=payment, amount=payment.amount // 4,
                          initiator=Refund.Initiator.STAFF, actor=admin,
                          reason="Demo: goodwill refund, the room changed")
        elif outcome == Booking.Status.REFUNDED:
            refund_create(payment=payment, amount=payment.amount,
                          initiator=Refund.Initiator.STAFF, actor=admin,
                          reason="Demo: customer could not attend")
        elif outcome == Booking.Status.CANCELLED:
            # The customer cancelled a few days later; half came back under the policy.
            booking_cancel(booking_id=booking.pk, actor=admin,
                           reason="Demo: plans changed", initiator=Refund.Initiator.CUSTOMER,
                           refund_amount=payment.amount // 2,
                           now=min(now, booked_at + timedelta(days=2)))
        elif outcome in (Booking.Status.COMPLETED, Booking.Status.NO_SHOW):
            attendees = list(booking.attendees.order_by("pk"))
            came = attendees if outcome == Booking.Status.COMPLETED else []
            # In a group someone is usually missing.
            if outcome == Booking.Status.COMPLETED and len(attendees) > 2:
                came = attendees[:-1]
            absent = [a for a in attendees if a not in came]
            ran = booking.session.ends_at
            for people, attendance in ((came, Attendee.Attendance.ATTENDED),
                                       (absent, Attendee.Attendance.NO_SHOW)):
                if people:
                    attendance_record(attendee_ids=[a.pk for a in people],
                                      attendance=attendance, actor=admin, now=ran)
            # attendance_record queues the certificate task after commit (it emails each
            # certificate with its PDF, when a worker runs it); the certificates are issued
            # here too, so the demo has them whether or not a worker is running.
            for attendee in came:
                certificate_issue(attendee=attendee)


def _weekday_on_or_before(day):
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


# --- demo only -------------------------------------------------------------------------
# No service takes a creation date (created_at is set when the row is written, and a
# person joins when their account is created), so the demo moves them back in time
# afterwards, for the dashboard's charts. Nothing outside seed_demo may do this.

def _demo_backdate(booking, booked_at):
    Booking.objects.filter(pk=booking.pk).update(created_at=booked_at)


def _demo_backdate_joining(customers):
    for user in User.objects.filter(
            Q(pk__in=[c.pk for c in customers]) | Q(attendances__isnull=False)).distinct():
        first = Booking.objects.filter(
            Q(purchaser=user) | Q(attendees__user=user)).aggregate(first=Min("created_at"))
        if first["first"] and first["first"] < user.date_joined:
            User.objects.filter(pk=user.pk).update(date_joined=first["first"])
