"""The cancellation policy as a customer reads it before paying: the tiers of
settings.CANCELLATION_POLICY with this session's concrete local dates. Read-only: what a
cancellation actually refunds is decided by the refund quote, not here.

A tier "14 days" means the same local wall-clock time 14 calendar days before the start,
in the provider's time zone (settings.TIME_ZONE), so a deadline keeps its hour across a
clock change."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.dateformat import format as format_date


@dataclass(frozen=True)
class RefundDeadline:
    percent: int
    until: datetime  # aware; the refund applies to cancellations up to this moment
    at_start: bool  # the tier runs until the course starts


def _local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def refund_deadline(*, starts_at: datetime, days: int) -> datetime:
    """`days` calendar days before the start, at the same local wall-clock time."""
    local = starts_at.astimezone(_local_zone())
    # Arithmetic on an aware datetime keeps its wall-clock time; converting to UTC reads
    # the offset of that day (Python compares same-zone datetimes by wall clock alone).
    return (local - timedelta(days=days)).astimezone(UTC)


def refund_deadlines(*, starts_at: datetime, now: datetime | None = None) -> list[RefundDeadline]:
    """The tiers still to come, each refunding something, in the order they end."""
    now = now or timezone.now()
    deadlines = []
    for days, percent in settings.CANCELLATION_POLICY:
        until = refund_deadline(starts_at=starts_at, days=days)
        if percent <= 0:
            break  # first match wins: nothing after a no-refund tier is ever reached
        if until >= now:
            deadlines.append(RefundDeadline(percent=percent, until=until, at_start=days == 0))
    return deadlines


def _when(moment: datetime, *, now: datetime) -> str:
    local = moment.astimezone(_local_zone())
    same_year = local.year == now.astimezone(_local_zone()).year
    return format_date(local, "D j M H:i" if same_year else "D j M Y H:i")


def session_cancellation_policy_text(*, session, now: datetime | None = None) -> str:
    """One sentence, e.g. "Full refund if you cancel until Wed 16 Dec 09:00, 50 % until
    Wed 23 Dec 09:00, no refund after." Tiers already passed are left out."""
    now = now or timezone.now()
    deadlines = refund_deadlines(starts_at=session.starts_at, now=now)
    if not deadlines:
        passed = [days for days, percent in settings.CANCELLATION_POLICY if percent > 0]
        if passed and session.starts_at > now:
            least = min(passed)
            return (f"No refund if you cancel: the course starts in less than {least} "
                    f"day{'s' if least != 1 else ''}.")
        return "No refund if you cancel."
    parts = []
    for deadline in deadlines:
        share = "Full refund" if deadline.percent >= 100 else f"{deadline.percent} %"
        if not parts and deadline.percent < 100:
            share += " refund"
        if not parts:
            share += " if you cancel"
        when = _when(deadline.until, now=now)
        parts.append(f"{share} until the course starts ({when})" if deadline.at_start
                     else f"{share} until {when}")
    if not deadlines[-1].at_start:
        parts.append("no refund after")
    return ", ".join(parts) + "."


def booking_cancellation_policy_text(*, booking, now: datetime | None = None) -> str:
    """The policy for one booking's session, for pages and emails (plain text)."""
    return session_cancellation_policy_text(session=booking.session, now=now)
