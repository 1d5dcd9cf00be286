"""VAT arithmetic, exact in minor units (integers and fractions, never floats).

Prices are VAT-inclusive (what a customer is quoted and pays). Rounding is per line
(see docs/invoicing.md): each line's VAT is worked out from its own gross amount and
rounded to the nearest minor unit, an exact half away from zero; its net amount is the
gross minus that VAT. Totals and the VAT summary per rate are sums of lines, so every
column adds up and the gross is always exactly what was charged."""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction


def round_half_away(value: Fraction) -> int:
    whole, remainder = divmod(abs(value.numerator), value.denominator)
    if 2 * remainder >= value.denominator:
        whole += 1
    return whole if value >= 0 else -whole


def vat_in_gross(*, gross: int, rate: Decimal) -> int:
    """The VAT inside a VAT-inclusive amount: gross × rate / (100 + rate), rounded.
    £190.00 at 20% → £31.67 (31.666…); a negative gross (a discount) mirrors a positive."""
    rate_fraction = Fraction(rate)
    if rate_fraction <= 0:
        return 0
    return round_half_away(Fraction(gross) * rate_fraction / (100 + rate_fraction))


def unit_net(*, unit_gross: int, rate: Decimal) -> int:
    """A unit's price net of VAT, rounded for display; line amounts never multiply it."""
    return unit_gross - vat_in_gross(gross=unit_gross, rate=rate)


@dataclass(frozen=True)
class LineAmounts:
    net: int
    vat: int
    gross: int


def line_amounts(*, quantity: int, unit_gross: int, rate: Decimal) -> LineAmounts:
    gross = quantity * unit_gross
    vat = vat_in_gross(gross=gross, rate=rate)
    return LineAmounts(net=gross - vat, vat=vat, gross=gross)


def split_by_weight(*, amount: int, weights: list[int]) -> list[int]:
    """`amount` shared out in proportion to `weights` (largest remainders), summing exactly
    to `amount`: how a partial credit is spread over an invoice's lines."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    exact = [Fraction(amount * w, total) for w in weights]
    shares = [int(e.numerator // e.denominator) for e in exact]
    leftover = amount - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in order[:leftover]:
        shares[i] += 1
    return shares
