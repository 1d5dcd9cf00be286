"""The customer cancellation policy: how much comes back, decided in one place."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.core.money import format_money


@dataclass(frozen=True)
class CancellationQuote:
    percent: int
    amount: int
    currency: str
    explanation: str
    # The last moment this quote holds (the next tier starts just after it); None when
    # nothing better or worse follows (the last tier, or the course has started).
    valid_until: datetime | None = None

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)


def tier_boundary(starts_at: datetime, days: int) -> datetime:
    """`days` calendar days before the start, at the same local wall-clock time in the
    provider's time zone (settings.TIME_ZONE): across a clock change this is 23 or 25 real
    hours away from 24-hour arithmetic, and it is the time the customer is shown."""
    local_start = timezone.localtime(starts_at)
    wall = local_start.replace(tzinfo=None) - timedelta(days=days)
    return timezone.make_aware(wall, timezone.get_current_timezone())


def _shown(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%H:%M} on {local:%A} {local.day} {local:%B %Y}"


def cancellation_quote(*, booking, paid: int, now: datetime | None = None) -> CancellationQuote:
    """What a customer gets back for cancelling now. `paid` is what is still refundable:
    what they paid and have not yet had back (after a partial staff refund, the policy's
    percentage applies to the rest).

    Tiers come from settings.CANCELLATION_POLICY as (days before start, percent), checked
    in order. Days are calendar days in the provider's time zone: with a 14-day tier, a
    course at 09:00 on 28 March is fully refunded until 09:00 (local) on 14 March, that
    minute included, whatever the clocks did in between.
    """
    now = now or timezone.now()
    starts_at = booking.session.starts_at
    if now >= starts_at:
        return CancellationQuote(0, 0, booking.currency,
                                 "The course has started: it can no longer be cancelled.")
    tiers = list(settings.CANCELLATION_POLICY)
    for index, (days, percent) in enumerate(tiers):
        boundary = tier_boundary(starts_at, days)
        if now <= boundary:
            amount = paid * percent // 100
            following = tiers[index + 1] if index + 1 < len(tiers) else None
            valid_until = boundary if following and following[1] != percent else None
            if valid_until is not None:
                explanation = (f"Cancelling until {_shown(boundary)} refunds {percent}%"
                               f" (the policy: {days} day{'s' if days != 1 else ''} before "
                               "the course).")
            else:
                explanation = f"Cancelling now refunds {percent}%."
            return CancellationQuote(percent, amount, booking.currency, explanation,
                                     valid_until)
    return CancellationQuote(0, 0, booking.currency,
                             "The course is too close: cancelling now refunds nothing.")
