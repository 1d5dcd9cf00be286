"""Business dashboard figures: a fixed, small number of aggregate queries, cached.

Every figure is computed in the database (GROUP BY / aggregates / EXISTS), never by
looping over bookings in Python, so the cost stays flat in the number of rows returned
and the number of queries is constant (see `DASHBOARD_QUERIES`). Days, weeks and months
are calendar periods in the site's time zone (settings.TIME_ZONE); weeks start on Monday.

Money is integer minor units in settings.DEFAULT_CURRENCY; payments and refunds in another
currency are not added in (their currencies are listed in `revenue.other_currencies`).
"""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.utils import timezone

from apps.bookings.models import Booking, BookingStatus
from apps.bookings.waitlist import waitlist_conversion
from apps.certificates.models import Certificate
from apps.certificates.selectors import holds_later_seat
from apps.payments.models import DisputeEvent, Payment
from apps.refunds.models import Refund
from apps.sessions.models import CourseSession
from apps.users.models import User

CACHE_KEY = "core:dashboard:figures:v1"
CACHE_SECONDS = 5 * 60

BOOKING_DAYS = 90
REVENUE_WEEKS = 13
PAYMENT_DAYS = 90
CUSTOMER_MONTHS = 12
EXPIRY_DAYS = 90
LIST_LENGTH = 10
# Queries one uncached `dashboard_figures()` call makes, whatever the data.
DASHBOARD_QUERIES = 13



def _local_midnight(day: date, tz) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), tz)


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + (day.month - 1) - months_back
    return date(index // 12, index % 12 + 1, 1)


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _bookings_per_day(today: date, tz) -> list[dict]:
    first = today - timedelta(days=BOOKING_DAYS - 1)
    rows = (
        Booking.objects.filter(
            created_at__gte=_local_midnight(first, tz),
            created_at__lt=_local_midnight(today + timedelta(days=1), tz),
        )
        .exclude(status=BookingStatus.EXPIRED)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts = {row["day"]: row["count"] for row in rows}
    days = [first + timedelta(days=n) for n in range(BOOKING_DAYS)]
    return [{"day": day, "count": counts.get(day, 0)} for day in days]


def _revenue_per_week(today: date, tz, currency: str) -> tuple[list[dict], list[str]]:
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=REVENUE_WEEKS - 1)
    start = _local_midnight(first, tz)
    end = _local_midnight(this_monday + timedelta(weeks=1), tz)
    payments = (
        Payment.objects.filter(
            status__in=Payment.MONEY_ARRIVED, succeeded_at__gte=start, succeeded_at__lt=end
        )
        .annotate(week=TruncWeek("succeeded_at", tzinfo=tz))
        .values("week", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    refunds = (
        Refund.objects.filter(
            status=Refund.Status.SUCCEEDED, updated_at__gte=start, updated_at__lt=end
        )
        .annotate(week=TruncWeek("updated_at", tzinfo=tz))
        .values("week", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    # Disputes: each dispute event's change in what the dispute costs us (funds withdrawn
    # or lost, negative when reinstated), in the week we learnt of it.
    disputes = (
        DisputeEvent.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(money_effect=0)
        .annotate(week=TruncWeek("created_at", tzinfo=tz))
        .values("week", "dispute__currency")
        .annotate(total=Sum("money_effect"), currency=F("dispute__currency"))
        .values("week", "currency", "total")
        .order_by()
    )
    gross: dict[date, int] = {}
    refunded: dict[date, int] = {}
    disputed: dict[date, int] = {}
    others: set[str] = set()
    for rows, into in ((payments, gross), (refunds, refunded), (disputes, disputed)):
        for row in rows:
            if row["currency"] != currency:
                others.add(row["currency"])
                continue
            week = _as_date(row["week"])
            into[week] = into.get(week, 0) + int(row["total"])
    weeks = [first + timedelta(weeks=n) for n in range(REVENUE_WEEKS)]
    series = [
        {
            "week_start": week,
            "gross": gross.get(week, 0),
            "refunds": refunded.get(week, 0),
            "disputes": disputed.get(week, 0),
            "net": gross.get(week, 0) - refunded.get(week, 0) - disputed.get(week, 0),
        }
        for week in weeks
    ]
    return series, sorted(others)


def _payment_success(now: datetime) -> dict:
    counts = Payment.objects.filter(
        method=Payment.Method.CARD, created_at__gte=now - timedelta(days=PAYMENT_DAYS),
        created_at__lte=now,
    ).aggregate(
        succeeded=Count("pk", filter=Q(status__in=Payment.MONEY_ARRIVED)),
        failed=Count("pk", filter=Q(status=Payment.Status.FAILED)),
    )
    succeeded, failed = counts["succeeded"], counts["failed"]
    return {"succeeded": succeeded, "failed": failed, "rate": _rate(succeeded, succeeded + failed)}


def _new_customers_per_month(today: date, tz) -> list[dict]:
    first = _month_start(today, CUSTOMER_MONTHS - 1)
    rows = (
        User.objects.filter(
            role=User.Role.CUSTOMER,
            date_joined__gte=_local_midnight(first, tz),
            date_joined__lt=_local_midnight(_month_start(today, -1), tz),
        )
        .annotate(month=TruncMonth("date_joined", tzinfo=tz))
        .values("month")
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts = {_as_date(row["month"]): row["count"] for row in rows}
    months = [_month_start(today, back) for back in range(CUSTOMER_MONTHS - 1, -1, -1)]
    return [{"month": month, "count": counts.get(month, 0)} for month in months]


def _fill(now: datetime) -> dict:
    upcoming = CourseSession.objects.upcoming(now)
    totals = upcoming.aggregate(
        sessions=Count("pk"), seats_taken=Sum("seats_taken"), capacity=Sum("capacity")
    )
    taken, capacity = totals["seats_taken"] or 0, totals["capacity"] or 0
    next_sessions = [
        {
            "id": row["pk"],
            "course": row["course__title"],
            "location": row["location__name"],
            "starts_at": row["starts_at"],
            "seats_taken": row["seats_taken"],
            "capacity": row["capacity"],
            "rate": _rate(row["seats_taken"], row["capacity"]),
        }
        for row in upcoming.order_by("starts_at", "pk").values(
            "pk", "course__title", "location__name", "starts_at", "seats_taken", "capacity"
        )[:LIST_LENGTH]
    ]
    return {
        "sessions": totals["sessions"],
        "seats_taken": taken,
        "capacity": capacity,
        "rate": _rate(taken, capacity),
        "next_sessions": next_sessions,
    }


def _certificates_expiring(today: date) -> dict:
    expiring = Certificate.objects.filter(
        revoked_at__isnull=True,
        expires_on__gte=today,
        expires_on__lte=today + timedelta(days=EXPIRY_DAYS),
    )
    items = [
        {
            "id": row["pk"],
            "number": row["number"],
            "holder_name": row["holder_name"],
            "email": row["user__email"],
            "course": row["course__title"],
            "expires_on": row["expires_on"],
            "days_left": (row["expires_on"] - today).days,
        }
        for row in expiring.order_by("expires_on", "pk").values(
            "pk", "number", "holder_name", "user__email", "course__title", "expires_on"
        )[:LIST_LENGTH]
    ]
    return {"count": expiring.count(), "items": items}


def _renewal(today: date) -> dict:
    """Of the certificates that have expired (not revoked), how many were renewed: the
    holder holds a seat, as an attendee, on a later session of the same course
    (`apps.certificates.selectors.holds_later_seat`; buying a seat for a colleague does
    not renew the buyer's certificate). The EXISTS alone in WHERE becomes a semi-join."""
    expired = Certificate.objects.filter(revoked_at__isnull=True, expires_on__lt=today)
    total = expired.count()
    renewed = expired.filter(holds_later_seat()).count()
    return {"expired": total, "renewed": renewed, "rate": _rate(renewed, total)}


def dashboard_figures(*, now: datetime | None = None) -> dict:
    """Every figure of the staff dashboard, as plain data (dates, ints, floats, strings)
    so it pickles into the cache and renders without touching the database again."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now, tz)
    currency = settings.DEFAULT_CURRENCY

    bookings = _bookings_per_day(today, tz)
    revenue, other_currencies = _revenue_per_week(today, tz, currency)
    return {
        "generated_at": now,
        "today": today,
        "currency": currency,
        "bookings_per_day": bookings,
        "bookings_total": sum(point["count"] for point in bookings),
        "revenue_per_week": revenue,
        "revenue_net_total": sum(point["net"] for point in revenue),
        "revenue_other_currencies": other_currencies,
        "payment_success": _payment_success(now),
        "new_customers_per_month": (customers := _new_customers_per_month(today, tz)),
        "new_customers_total": sum(point["count"] for point in customers),
        "fill": _fill(now),
        "certificates_expiring": _certificates_expiring(today),
        "renewal": _renewal(today),
        # Waiting-list offers sent in the last 90 days and how many became paid bookings.
        "waitlist": waitlist_conversion(
            since=_local_midnight(today - timedelta(days=BOOKING_DAYS - 1), tz), until=now),
    }


def dashboard_figures_cached(*, now: datetime | None = None) -> dict:
    """`dashboard_figures()` through the shared cache (Redis in production) for five
    minutes. The key is global: the figures are the same for every staff member."""
    figures = cache.get(CACHE_KEY)
    if figures is None:
        figures = dashboard_figures(now=now)
        cache.set(CACHE_KEY, figures, CACHE_SECONDS)
    return figures


def dashboard_refresh() -> None:
    """Recompute the figures into the cache (beat runs this every 4 minutes, inside the
    5-minute lifetime), so that staff opening the dashboard never wait for the ~0.3 s of
    queries over every booking; only the first visit after a deploy or a flush does."""
    cache.set(CACHE_KEY, dashboard_figures(), CACHE_SECONDS)


def dashboard_cache_clear() -> None:
    cache.delete(CACHE_KEY)
