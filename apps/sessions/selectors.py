from datetime import datetime, timedelta

from django.db.models import F, QuerySet
from django.utils import timezone

from .models import Course, CourseSession, Location


def catalogue_sessions(*, course_slug: str = "", location_id: str = "", now: datetime | None = None
                       ) -> QuerySet[CourseSession]:
    """Upcoming, scheduled sessions with everything a listing shows, in one query."""
    sessions = (
        CourseSession.objects.upcoming(now or timezone.now())
        .select_related("course", "location", "trainer")
        .order_by("starts_at", "pk")
    )
    if course_slug:
        sessions = sessions.filter(course__slug=course_slug)
    if location_id and str(location_id).isdigit():
        sessions = sessions.filter(location_id=int(location_id))
    return sessions


def catalogue_filter_options() -> dict:
    return {
        "courses": list(Course.objects.filter(is_active=True).only("title", "slug")),
        "locations": list(Location.objects.only("name", "city")),
    }


def session_for_page(*, session_id: int) -> CourseSession | None:
    return (
        CourseSession.objects.select_related("course", "location", "trainer")
        .filter(pk=session_id)
        .first()
    )


RENEWAL_WINDOW_DAYS = 90


def renewal_window(*, expires_on, today):
    """When to renew a certificate: the 90 days before it expires (from today if those have
    begun, or the next 90 days once it has lapsed)."""
    window = timedelta(days=RENEWAL_WINDOW_DAYS)
    if expires_on < today:
        return today, today + window
    return max(today, expires_on - window), expires_on


def renewal_session(*, course_id: int, expires_on, now: datetime | None = None):
    """The bookable session of this course nearest the certificate's expiry inside its
    renewal window (the latest one before it lapses), or None if none is scheduled yet."""
    now = now or timezone.now()
    start, end = renewal_window(expires_on=expires_on, today=timezone.localdate(now))
    return (CourseSession.objects.upcoming(now)
            .filter(course_id=course_id, seats_taken__lt=F("capacity"),
                    starts_at__date__gte=start, starts_at__date__lte=end)
            .order_by("-starts_at", "-pk").first())


def next_session_by_course(*, course_ids, now: datetime | None = None) -> dict:
    """{course_id: the next bookable session} for "book again" and renewal links, one query."""
    if not course_ids:
        return {}
    found = {}
    for session in (CourseSession.objects.upcoming(now or timezone.now())
                    .filter(course_id__in=course_ids, seats_taken__lt=F("capacity"))
                    .order_by("course_id", "starts_at")):
        found.setdefault(session.course_id, session)
    return found
