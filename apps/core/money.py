"""Money is integer minor units plus an ISO 4217 currency code. Never floats."""

from decimal import Decimal

# The currency of prices unless a course says otherwise (model field defaults use this
# constant so that no migration depends on the environment; settings.DEFAULT_CURRENCY is
# the same code and what reports are totalled in).
DEFAULT_CURRENCY = "GBP"
CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX"}


def minor_units_per_major(currency: str) -> int:
    return 1 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 100


def format_money(amount: int, currency: str) -> str:
    """`1250, "GBP"` -> `£12.50`; a currency without a symbol keeps its code."""
    currency = currency.upper()
    per_major = minor_units_per_major(currency)
    sign = "-" if amount < 0 else ""
    major = Decimal(abs(amount)) / per_major
    text = f"{major:,.0f}" if per_major == 1 else f"{major:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def to_minor_units(major: Decimal | str | int, currency: str) -> int:
    """Parse an amount typed by a person ("12.50") into minor units, exactly."""
    value = Decimal(str(major)) * minor_units_per_major(currency)
    if value != value.to_integral_value():
        raise ValueError(f"{major} has more decimal places than {currency} allows.")
    return int(value)
