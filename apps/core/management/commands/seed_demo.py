"""Believable demo data: courses, venues, trainers, three months of sessions and bookings
in every status. Safe to run again: what exists is kept, nothing is duplicated."""

import random
from datetime import datetime, time, timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.bookings.services import AttendeeInput, BookingRequest, booking_create, booking_transition
from apps.certificates.services import certificate_issue
from apps.core.money import format_money
from apps.payments.services import payment_record_manual
from apps.refunds.models import Refund
from apps.refunds.services import refund_mark_succeeded
from apps.sessions.catalogue_cache import catalogue_changed
from apps.sessions.models import Course, CourseSession, Location
from apps.users.models import User
from apps.users.services import user_change_role, user_get_or_create

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

ADMIN_EMAIL = "admin@example.com"
# Demo only: seed_demo refuses to run with DEBUG off.
INSTRUCTOR_PASSWORD = "portal-demo-trainer"  # noqa: S105
START_TIMES = [time(9, 0), time(9, 30), time(13, 0)]


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
        # A few sessions in the recent past (completed, no-show bookings), then 90 days ahead.
        for day_offset in list(range(-20, 0, 6)) + list(range(2, 92, 2)):
            day = today + timedelta(days=day_offset)
            if day.weekday() >= 5:
                continue
            course = courses[(day_offset + 20) % len(courses)]
            for location in rng.sample(locations, k=rng.choice([1, 1, 2])):
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
                made += 1
        return made

    def _bookings(self, rng, now, customers, admin):
        demo_emails = [c.email for c in customers]
        if Booking.objects.filter(purchaser__email__in=demo_emails).exists():
            return 0
        past = list(CourseSession.objects.filter(starts_at__lt=now).order_by("starts_at"))
        future = list(CourseSession.objects.filter(starts_at__gte=now).order_by("starts_at"))
        plan = (
            # (session pool, status, seats)
            [(future, Booking.Status.PAID, n) for n in (1, 2, 1, 3, 1, 2, 4, 1, 1, 2, 1, 1)]
            + [(future, Booking.Status.PENDING, 1), (future, Booking.Status.PENDING, 2)]
            + [(future, Booking.Status.EXPIRED, 1), (future, Booking.Status.CANCELLED, 1)]
            + [(future, Booking.Status.REFUNDED, 1)]
            + [(past, Booking.Status.COMPLETED, n) for n in (1, 2, 1)]
            + [(past, Booking.Status.NO_SHOW, 1)]
            # paid and waiting for staff to mark attendance (then certificates are issued)
            + [(past, Booking.Status.PAID, 2), (past, Booking.Status.PAID, 1)]
        )
        made = 0
        for index, (pool, status, seats) in enumerate(plan):
            session = pool[(index * 3) % len(pool)]
            purchaser = customers[index % len(customers)]
            attendees = [AttendeeInput(name=purchaser.full_name, email=purchaser.email)]
            for n in range(1, seats):
                attendees.append(AttendeeInput(
                    name=f"Colleague {n} of {purchaser.first_name}",
                    email=f"{purchaser.email.split('@')[0]}.team{n}@example.com",
                ))
            # Past sessions are booked "as of" a week before they ran.
            booked_at = min(now, session.starts_at - timedelta(days=7))
            booking = booking_create(
                request=BookingRequest(
                    session_id=session.pk,
                    purchaser_email=purchaser.email,
                    purchaser_first_name=purchaser.first_name,
                    purchaser_last_name=purchaser.last_name,
                    company_name=purchaser.company_name if seats > 1 else "",
                    attendees=attendees,
                    special_requirements="Vegetarian lunch, please." if index % 5 == 0 else "",
                ),
                now=booked_at,
            )
            self._move_to(booking, status, admin, booked_at)
            made += 1
        return made

    def _move_to(self, booking, status, admin, booked_at):
        if status == Booking.Status.PENDING:
            return
        if status == Booking.Status.EXPIRED:
            booking_transition(booking_id=booking.pk, to=status, now=booked_at)
            return
        if status == Booking.Status.CANCELLED:
            booking_transition(booking_id=booking.pk, to=status, actor=admin, now=booked_at)
            return
        payment = payment_record_manual(booking=booking, actor=admin, now=booked_at,
                                        note="Demo: paid by bank transfer")
        if status == Booking.Status.REFUNDED:
            refund = Refund.objects.create(
                payment=payment, amount=payment.amount, currency=payment.currency,
                initiator=Refund.Initiator.STAFF, reason="Demo: customer could not attend",
                created_by=admin,
            )
            refund_mark_succeeded(refund_id=refund.pk, actor=admin)
        elif status in (Booking.Status.COMPLETED, Booking.Status.NO_SHOW):
            booking_transition(booking_id=booking.pk, to=status, actor=admin)
            if status == Booking.Status.COMPLETED:
                for attendee in booking.attendees.all():
                    Attendee.objects.filter(pk=attendee.pk).update(attendance="attended")
                    certificate_issue(attendee=attendee)
        self.stdout.write(
            f"  {booking.reference}: {status}, "
            f"{format_money(booking.total_amount, booking.currency)}"
        )
