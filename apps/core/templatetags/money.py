from django import template

from apps.core.money import DEFAULT_CURRENCY, format_money

register = template.Library()


@register.filter(name="money")
def money_filter(amount, currency=DEFAULT_CURRENCY):
    if amount is None:
        return ""
    return format_money(int(amount), currency or DEFAULT_CURRENCY)
