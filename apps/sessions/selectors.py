from datetime import datetime, timedelta
from functools import cache

from django.db import connection
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
    """The session with its course, location and trainer, in one statement.

    The booking form reads it on every GET and POST of a popular session; building this
    query with the ORM (select_related over three tables) cost more CPU than the database
    spends answering it, so the statement is made once per process from the models'
    fields and the rows are turned into model instances as the ORM would (`from_db`, the
    fields' converters)."""
    sql, parts = _session_page_statement()
    with connection.cursor() as cursor:
        cursor.execute(sql, [session_id])
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for model, fields, converters in parts:
        values = list(row[start:start + len(fields)])
        start += len(fields)
        for index, convert in converters:
            for converter in convert:
                values[index] = converter(values[index], fields[index], connection)
        instances.append(model.from_db(connection.alias, [f.attname for f in fields], values))
    session, course, location, trainer = instances
    session._state.fields_cache.update(course=course, location=location, trainer=trainer)
    return session


@cache
def _session_page_statement():
    """SELECT session.*, course.*, location.*, trainer.* (every concrete column, in model
    order) and, per model, its fields and the converters the ORM would apply."""
    quote = connection.ops.quote_name
    trainer_model = CourseSession._meta.get_field("trainer").related_model
    joins = (("s", CourseSession, None), ("c", Course, "course_id"),
             ("l", Location, "location_id"), ("t", trainer_model, "trainer_id"))
    columns, parts, tables = [], [], []
    for alias, model, via in joins:
        fields = list(model._meta.concrete_fields)
        columns += [f"{alias}.{quote(f.column)}" for f in fields]
        converters = [(i, convert) for i, f in enumerate(fields) if (convert := (
            f.get_db_converters(connection) + connection.ops.get_db_converters(f.cached_col)))]
        parts.append((model, fields, converters))
        table = f"{quote(model._meta.db_table)} {alias}"
        tables.append(table if via is None else
                      f"JOIN {table} ON {alias}.{quote(model._meta.pk.column)} = s.{quote(via)}")
    sql = (f"SELECT {', '.join(columns)} FROM {' '.join(tables)} "  # noqa: S608 (names from the models; the id is a parameter)
           f"WHERE s.{quote(CourseSession._meta.pk.column)} = %s")
    return sql, parts


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
