from datetime import timedelta

import factory
from django.utils import timezone

from apps.bookings.services import AttendeeInput, BookingRequest, booking_create
from apps.sessions.models import Course, CourseSession, Location
from apps.users.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class InstructorFactory(UserFactory):
    role = User.Role.INSTRUCTOR
    is_staff = True


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    title = factory.Sequence(lambda n: f"First Aid Course {n}")
    slug = factory.Sequence(lambda n: f"first-aid-{n}")
    summary = "Practical first aid."
    price = 9500
    validity_months = 36


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Training Room {n}")
    address_line1 = "1 High Street"
    city = "London"
    postcode = "N1 1AA"


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CourseSession

    course = factory.SubFactory(CourseFactory)
    trainer = factory.SubFactory(InstructorFactory)
    location = factory.SubFactory(LocationFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=10))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=6))
    capacity = 12
    price = factory.LazyAttribute(lambda o: o.course.price)


def make_booking(session, *, email="buyer@example.com", seats=1, now=None, token=None):
    attendees = [AttendeeInput(name="Buyer One", email=email)] + [
        AttendeeInput(name=f"Guest {n}", email=f"guest{n}.{email}") for n in range(1, seats)
    ]
    return booking_create(
        request=BookingRequest(
            session_id=session.pk,
            purchaser_email=email,
            purchaser_first_name="Buyer",
            purchaser_last_name="One",
            attendees=attendees,
            submission_token=token,
        ),
        now=now,
    )
