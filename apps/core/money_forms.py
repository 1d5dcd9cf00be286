"""Money typed by a person: "145", "145.00" or "£1,450.50" in, integer minor units out."""

from decimal import Decimal, InvalidOperation

from django import forms

from apps.core.money import (
    CURRENCY_SYMBOLS,
    DEFAULT_CURRENCY,
    format_money,
    minor_units_per_major,
    to_minor_units,
)


class MoneyField(forms.Field):
    """A form field for an amount in minor units, shown and entered in major units of
    `currency` (pounds for GBP). `min_amount`/`max_amount` are minor units."""

    widget = forms.TextInput

    def __init__(self, *, currency: str = DEFAULT_CURRENCY, min_amount: int | None = 0,
                 max_amount: int | None = None, **kwargs):
        self.currency = currency.upper()
        self.min_amount, self.max_amount = min_amount, max_amount
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "decimal", "autocomplete": "off", "class": "vTextField money",
                      "size": "12"})
        return attrs

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            per_major = minor_units_per_major(self.currency)
            major = Decimal(value) / per_major
            return f"{major:.0f}" if per_major == 1 else f"{major:.2f}"
        return value

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, int):
            return value
        text = str(value).strip().replace(",", "")
        for symbol in CURRENCY_SYMBOLS.values():
            text = text.removeprefix(symbol)
        text = text.removesuffix(self.currency).strip()
        try:
            amount = to_minor_units(Decimal(text), self.currency)
        except (InvalidOperation, ValueError):
            places = "no pence" if minor_units_per_major(self.currency) == 1 else "two decimals"
            raise forms.ValidationError(
                f"Enter an amount such as 145.00 ({places} at most).", code="invalid") from None
        return amount

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        if self.min_amount is not None and value < self.min_amount:
            raise forms.ValidationError(
                f"Enter at least {format_money(self.min_amount, self.currency)}.")
        if self.max_amount is not None and value > self.max_amount:
            raise forms.ValidationError(
                f"Enter at most {format_money(self.max_amount, self.currency)}.")
