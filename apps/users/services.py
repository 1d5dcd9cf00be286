from django.db import IntegrityError, transaction

from apps.core.audit import log_action
from apps.core.errors import DomainError

from .models import User, normalize_email


def user_get_or_create(
    *, email: str, first_name: str = "", last_name: str = "", company_name: str = "",
    phone: str = "",
) -> User:
    """Find a user by email (case-insensitive) or create a passwordless customer.

    Safe under concurrency: the case-insensitive unique index decides, and a loser of
    the race re-reads the winner's row. Blank profile fields are filled, never overwritten.
    """
    email = normalize_email(email)
    if not email:
        raise DomainError("An email address is required.")
    user = User.objects.filter(email=email).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    company_name=company_name,
                    phone=phone,
                )
                log_action("user.created", actor=None, target=user, user=user)
                return user
        except IntegrityError:
            user = User.objects.filter(email=email).first()
            if user is None:
                raise
    updates = {}
    for field, value in (
        ("first_name", first_name),
        ("last_name", last_name),
        ("company_name", company_name),
        ("phone", phone),
    ):
        if value and not getattr(user, field):
            updates[field] = value
    if updates:
        User.objects.filter(pk=user.pk).update(**updates)
        for field, value in updates.items():
            setattr(user, field, value)
    return user


def user_change_role(*, user: User, role: str, actor: User | None) -> User:
    """Change a user's role; staff access follows the role; every change is audited."""
    if role not in User.Role.values:
        raise DomainError(f"Unknown role {role!r}.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        old_role = locked.role
        if old_role == role:
            return locked
        locked.role = role
        locked.is_staff = role != User.Role.CUSTOMER
        locked.save(update_fields=["role", "is_staff"])
        log_action(
            "user.role_changed",
            actor=actor,
            target=locked,
            user=locked,
            data={"old": old_role, "new": role},
        )
    return locked
