"""Writes of the pricing rules: a code's uses (taken in the booking's transaction, given
back when a booking ends before it was paid) and staff's changes to codes and group
prices, each logged."""

from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.users.audit import log_action

from .models import DiscountCode, GroupDiscount
from .quotes import DiscountCodeError, code_used_up_message, discount_code_check, normalize_code


def discount_code_redeem(*, code_id: int, session, now: datetime) -> None:
    """Take one use of the code, for a booking being made in the caller's transaction.

    One conditional UPDATE: it locks the code's row until the booking commits and checks
    the limit and validity against the committed count, so however many bookings race for
    the last use exactly one gets it. Refused: DiscountCodeError saying why."""
    taken = DiscountCode.objects.filter(
        Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")),
        Q(valid_from__isnull=True) | Q(valid_from__lte=now),
        Q(valid_until__isnull=True) | Q(valid_until__gte=now),
        pk=code_id, active=True,
    ).update(uses=F("uses") + 1)
    if taken:
        return
    code = DiscountCode.objects.get(pk=code_id)
    discount_code_check(code_text=code.code, session=session, now=now)  # says why
    raise DiscountCodeError(code_used_up_message(code))


def discount_code_release(*, code_id: int) -> None:
    """Give a use back (the booking that held it expired or was cancelled unpaid)."""
    DiscountCode.objects.filter(pk=code_id, uses__gt=0).update(uses=F("uses") - 1)


def discount_code_retake(*, code_id: int) -> bool:
    """Count a use again for a booking paid after its hold lapsed: the customer paid the
    discounted price, so it is honoured even past `max_uses`. True when that went over."""
    DiscountCode.objects.filter(pk=code_id).update(uses=F("uses") + 1)
    code = DiscountCode.objects.get(pk=code_id)
    return code.max_uses is not None and code.uses > code.max_uses


# --- staff ----------------------------------------------------------------------------

CODE_FIELDS = ["code", "description", "kind", "percent", "amount", "currency", "course",
               "session", "valid_from", "valid_until", "max_uses", "active"]
GROUP_FIELDS = ["min_seats", "percent", "course", "active"]


def _snapshot(obj, fields) -> dict:
    return {name: (getattr(obj, f"{name}_id") if obj._meta.get_field(name).is_relation
                   else getattr(obj, name)) for name in fields}


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _changes(before: dict, after: dict) -> dict:
    return {k: [_plain(before[k]), _plain(after[k])] for k in after if before[k] != after[k]}


def discount_code_save(*, code: DiscountCode, actor) -> DiscountCode:
    """Create or change a code (from admin): stored in capitals, logged with what
    changed (`discount_code.created` / `discount_code.changed`)."""
    code.code = normalize_code(code.code)
    with transaction.atomic():
        before = None
        if code.pk:
            before = _snapshot(DiscountCode.objects.select_for_update().get(pk=code.pk),
                               CODE_FIELDS)
        code.save()
        after = _snapshot(code, CODE_FIELDS)
        if before is None:
            log_action("discount_code.created", actor=actor, target=code,
                       data={k: _plain(v) for k, v in after.items()})
        elif changed := _changes(before, after):
            log_action("discount_code.changed", actor=actor, target=code, data=changed)
    return code


def discount_code_deactivate(*, code_id: int, actor, now: datetime | None = None) -> bool:
    """Stop a code being used from now on (bookings that hold it keep their price)."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = DiscountCode.objects.filter(pk=code_id, active=True).update(
            active=False, updated_at=now)
        if changed:
            log_action("discount_code.deactivated", actor=actor,
                       target=DiscountCode.objects.get(pk=code_id))
    return bool(changed)


def group_discount_save(*, rule: GroupDiscount, actor) -> GroupDiscount:
    with transaction.atomic():
        before = None
        if rule.pk:
            before = _snapshot(GroupDiscount.objects.select_for_update().get(pk=rule.pk),
                               GROUP_FIELDS)
        rule.save()
        after = _snapshot(rule, GROUP_FIELDS)
        if before is None:
            log_action("group_discount.created", actor=actor, target=rule, data=after)
        elif changed := _changes(before, after):
            log_action("group_discount.changed", actor=actor, target=rule, data=changed)
    return rule
