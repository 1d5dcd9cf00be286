"""Prices: what a booking of N seats costs, with its group price and discount code. Reads
only; apps.bookings.services.booking_create calls `price_quote` inside its transaction
and apps.pricing.services counts the code's use.

Order and rounding (minor units, never floats): the list price is seats × unit price; a
group price takes its percentage off the list price; a code then takes its percentage (or
its fixed amount, never more than what is left) off what remains. A percentage is rounded
half up to the minor unit. The total never goes below zero."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from apps.core.errors import DomainError
from apps.core.money import format_money

from .models import DiscountCode, DiscountSource, GroupDiscount

CODE_MAX_LENGTH = DiscountCode._meta.get_field("code").max_length


class DiscountCodeError(DomainError):
    """A code that cannot be used on this booking: shown on the form's code field, a 400
    in the API."""

    code = "discount_code_invalid"
    status = 400


@dataclass(frozen=True)
class AppliedDiscount:
    kind: str          # DiscountSource
    label: str         # "Group price: 10% off from 5 seats", "Code SPRING10: 15% off"
    amount: int        # minor units taken off
    code_id: int | None = None
    code: str = ""


@dataclass(frozen=True)
class PriceQuote:
    unit_price: int
    seats: int
    currency: str
    discounts: tuple[AppliedDiscount, ...] = field(default_factory=tuple)

    @property
    def list_amount(self) -> int:
        return self.unit_price * self.seats

    @property
    def discount_total(self) -> int:
        return sum(d.amount for d in self.discounts)

    @property
    def total(self) -> int:
        return max(0, self.list_amount - self.discount_total)

    @property
    def discount_lines(self) -> list[tuple[str, int]]:
        return [(d.label, d.amount) for d in self.discounts]

    @property
    def code_discount(self) -> AppliedDiscount | None:
        return next((d for d in self.discounts if d.kind == DiscountSource.CODE), None)


def percent_of(amount: int, percent: int) -> int:
    """`percent`% of `amount` minor units, rounded half up."""
    return (amount * percent + 50) // 100


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` minor units in `parts` shares that differ by at most one unit and sum to
    `total` exactly (largest remainder with equal weights: the first `total % parts`
    shares get the extra unit)."""
    if parts < 1:
        raise ValueError("Split into at least one part.")
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def normalize_code(text: str) -> str:
    return (text or "").strip().upper()


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local.day} {local:%B %Y}"


def discount_code_check(*, code_text: str, session, now: datetime) -> DiscountCode:
    """The code typed for a booking on `session`, or DiscountCodeError saying why not
    (unknown, inactive, not yet or no longer valid, used up, for another course or
    session, or for prices in another currency)."""
    typed = normalize_code(code_text)
    if len(typed) > CODE_MAX_LENGTH:
        raise DiscountCodeError(f"“{typed[:CODE_MAX_LENGTH]}…” is not a discount code we know.")
    code = DiscountCode.objects.filter(code__iexact=typed).first()
    if code is None:
        raise DiscountCodeError(f"“{typed}” is not a discount code we know: please check "
                                "the spelling.")
    shown = code.code.upper()
    if not code.active:
        raise DiscountCodeError(f"The code {shown} is no longer valid.")
    if code.valid_from and now < code.valid_from:
        raise DiscountCodeError(f"The code {shown} can be used from {_when(code.valid_from)}.")
    if code.valid_until and now > code.valid_until:
        raise DiscountCodeError(f"The code {shown} expired on {_when(code.valid_until)}.")
    if code.session_id and code.session_id != session.pk:
        raise DiscountCodeError(f"The code {shown} is not valid for this date of the course.")
    if code.course_id and code.course_id != session.course_id:
        raise DiscountCodeError(f"The code {shown} is not valid for this course.")
    if not code.is_percentage and code.currency != session.currency:
        raise DiscountCodeError(f"The code {shown} is for prices in {code.currency}.")
    if code.max_uses is not None and code.uses >= code.max_uses:
        raise DiscountCodeError(code_used_up_message(code))
    return code


def code_used_up_message(code: DiscountCode) -> str:
    return f"The code {code.code.upper()} has been used up: it is no longer available."


def group_discount_for(*, session, seats: int) -> GroupDiscount | None:
    """The best active group price for `seats` on this session's course."""
    if seats < 2:
        return None
    return (GroupDiscount.objects.filter(Q(course__isnull=True) | Q(course_id=session.course_id),
                                         active=True, min_seats__lte=seats)
            .order_by("-percent", "-min_seats").first())


def price_quote(*, session, seats: int, code_text: str = "",
                now: datetime | None = None) -> PriceQuote:
    """The price of `seats` on `session` now, with the group price and the code (raises
    DiscountCodeError for a code that cannot be used). Two queries at most, whatever the
    number of seats."""
    now = now or timezone.now()
    discounts = []
    remaining = session.price * seats
    if rule := group_discount_for(session=session, seats=seats):
        amount = percent_of(remaining, rule.percent)
        discounts.append(AppliedDiscount(
            kind=DiscountSource.GROUP, amount=amount,
            label=f"Group price: {rule.percent}% off from {rule.min_seats} seats"))
        remaining -= amount
    if normalize_code(code_text):
        code = discount_code_check(code_text=code_text, session=session, now=now)
        if code.is_percentage:
            amount, what = percent_of(remaining, code.percent), f"{code.percent}% off"
        else:
            amount = min(code.amount, remaining)
            what = f"{format_money(code.amount, code.currency)} off"
        discounts.append(AppliedDiscount(kind=DiscountSource.CODE, amount=amount,
                                         label=f"Code {code.code.upper()}: {what}",
                                         code_id=code.pk, code=code.code.upper()))
    return PriceQuote(unit_price=session.price, seats=seats, currency=session.currency,
                      discounts=tuple(discounts))
