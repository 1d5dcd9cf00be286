from datetime import datetime

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
