from django import template

from apps.core.money import format_money

register = template.Library()


@register.filter(name="money")
def money_filter(amount, currency="GBP"):
    if amount is None:
        return ""
    return format_money(int(amount), currency or "GBP")
