"""Money in the back office is shown as money (£145.00, in the row's currency) and typed as
money ("145.00"): never pence, never "Minor units." help text.

`money_display("amount")` is an admin column or read-only field; `money_fields(...)` turns a
list of field names into the same list with its money fields shown as money, and
`MoneyFormMixin` makes editable money fields take "145.00"."""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib import admin

from apps.core.money import format_money
from apps.core.money_forms import MoneyField

# The money fields of each model (app_label.model_name) and where the row's currency is.
MONEY_FIELDS: dict[str, tuple[tuple[str, ...], Callable]] = {
    "payments.payment": (("amount",), lambda obj: obj.currency),
    "payments.dispute": (("amount", "money_lost"), lambda obj: obj.currency),
    "payments.disputeevent": (("money_effect",), lambda obj: obj.dispute.currency),
    "refunds.refund": (("amount",), lambda obj: obj.currency),
    "bookings.booking": (("unit_price", "list_amount", "total_amount"),
                         lambda obj: obj.currency),
    "pricing.discountcode": (("amount",), lambda obj: obj.currency),
    "course_sessions.course": (("price",), lambda obj: obj.currency),
    "course_sessions.coursesession": (("price",), lambda obj: obj.currency),
    "users.user": (("total_spent",), lambda obj: settings.DEFAULT_CURRENCY),
    "companies.company": (("credit_limit",), lambda obj: obj.currency),
}
LABELS = {"total_amount": "Total", "unit_price": "Price per seat", "list_amount": "List price",
          "money_lost": "Money lost",
          "money_effect": "Money effect", "total_spent": "Total spent"}


def money_display(field: str, *, currency: Callable, label: str | None = None):
    def show(obj):
        value = getattr(obj, field, None)
        return "—" if value is None else format_money(value, currency(obj))

    show.__name__ = f"{field}_as_money"
    return admin.display(description=label or LABELS.get(field, field.replace("_", " ")
                                                          .capitalize()),
                         ordering=field)(show)


def money_fields(model, names: Iterable[str]) -> list:
    """`names` with each money field of `model` replaced by its money display. An admin
    using it for read-only fields also sets `exclude = money_field_names(model)`: the raw
    field must not come back as an editable one."""
    fields, currency = MONEY_FIELDS.get(model._meta.label_lower, ((), None))
    return [money_display(name, currency=currency) if name in fields else name
            for name in names]


def money_field_names(model) -> tuple[str, ...]:
    return MONEY_FIELDS.get(model._meta.label_lower, ((), None))[0]


class MoneyFormMixin:
    """Editable money fields take "145.00" and store minor units, in the row's currency."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        fields, currency = MONEY_FIELDS.get(self.model._meta.label_lower, ((), None))
        code = currency(obj) if obj is not None else settings.DEFAULT_CURRENCY
        for name in fields:
            if name in form.base_fields:
                old = form.base_fields[name]
                form.base_fields[name] = MoneyField(
                    currency=code, label=old.label, required=old.required,
                    help_text=f"In {code}, e.g. 145.00.")
        return form
