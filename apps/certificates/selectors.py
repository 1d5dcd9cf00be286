"""Certificate reads."""

from django.db.models import Exists, OuterRef, QuerySet

from apps.bookings.models import Attendee, BookingStatus

from .models import Certificate

# A seat is held by a paid booking, and still counts once the session has run.
SEAT_HOLDING_STATUSES = (BookingStatus.PAID, BookingStatus.COMPLETED)

RENEWAL_DEFINITION = ("a certificate is renewed when its holder holds a seat, as an "
                      "attendee, on a later session of the same course")


def holds_later_seat() -> Exists:
    """For a Certificate queryset: its holder holds a seat, as an attendee (a paid or
    completed booking; buying a seat for someone else does not count), on a session of the
    same course that starts after the one the certificate came from."""
    return Exists(Attendee.objects.filter(
        user_id=OuterRef("user_id"),
        booking__status__in=SEAT_HOLDING_STATUSES,
        booking__session__course_id=OuterRef("course_id"),
        booking__session__starts_at__gt=OuterRef("session__starts_at"),
    ))


def has_later_certificate() -> Exists:
    """For a Certificate queryset: the holder has a later, unrevoked certificate for the
    same course."""
    return Exists(Certificate.objects.filter(
        user_id=OuterRef("user_id"),
        course_id=OuterRef("course_id"),
        revoked_at__isnull=True,
        session__starts_at__gt=OuterRef("session__starts_at"),
    ))


def certificates_not_renewed(queryset: QuerySet) -> QuerySet:
    """The certificates of `queryset` whose holder has not renewed: no later certificate
    and no seat on a later session of the course (see `holds_later_seat`)."""
    return queryset.exclude(holds_later_seat()).exclude(has_later_certificate())

# A verification code is `secrets.token_urlsafe(16)` (22 characters); the column holds 40.
MAX_CODE_LENGTH = 40
MAX_NUMBER_LENGTH = 20


def certificate_for_verification(*, code: str) -> Certificate | None:
    """The certificate whose public verification code this is, with its course; None
    when there is none. The code must match exactly (it is case-sensitive)."""
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    return Certificate.objects.select_related("course").filter(verification_code=code).first()


def certificate_for_owner(*, user, number: str) -> Certificate | None:
    """The certificate with this number if it is this user's own; None otherwise (another
    person's certificate and a number that does not exist look the same)."""
    if not getattr(user, "is_authenticated", False) or not number:
        return None
    if len(number) > MAX_NUMBER_LENGTH:
        return None
    return (
        Certificate.objects.select_related("course", "session__trainer")
        .filter(number=number.upper(), user_id=user.pk)
        .first()
    )


def certificate_for_staff(*, user, number: str) -> Certificate | None:
    """Any certificate by number, for staff with the `certificates.view_certificate`
    permission; None for everyone else."""
    if not (getattr(user, "is_staff", False) and user.is_active
            and user.has_perm("certificates.view_certificate")):
        return None
    if not number or len(number) > MAX_NUMBER_LENGTH:
        return None
    return (
        Certificate.objects.select_related("course", "session__trainer")
        .filter(number=number.upper())
        .first()
    )
