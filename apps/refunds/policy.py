"""The customer cancellation policy: how much comes back, decided in one place."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from apps.core.money import format_money


@dataclass(frozen=True)
class CancellationQuote:
    percent: int
    amount: int
    currency: str
    explanation: str

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)


def cancellation_quote(*, booking, paid: int, now: datetime | None = None) -> CancellationQuote:
    """What a customer gets back for cancelling now. `paid` is what is still refundable.

    Tiers come from settings.CANCELLATION_POLICY as (days before start, percent), checked
    in order: "at least 14 days before" means starts_at - now >= 14 days exactly.
    """
    now = now or timezone.now()
    before = booking.session.starts_at - now
    for days, percent in settings.CANCELLATION_POLICY:
        if before.total_seconds() >= days * 86400:
            amount = paid * percent // 100
            if days:
                when = f"at least {days} day{'s' if days != 1 else ''} before the course"
            else:
                when = "this close to the course"
            return CancellationQuote(percent, amount, booking.currency,
                                     f"Cancelling {when} refunds {percent}%.")
    return CancellationQuote(0, 0, booking.currency,
                             "The course has started: it can no longer be cancelled.")
