"""Staff roles: the only way staff access is granted.

A user's role decides everything the back office lets them do: `is_staff`, whether the
superuser flag may stay, and their permission group (what each role may do, in one table
below). `role_access_apply` is the one function that sets them; the role-change service
and account creation call it, and it puts right an account whose access has drifted from
its role. Nobody edits `is_staff`, the superuser flag or groups by hand."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group
from django.db import models

from apps.users.audit import log_action


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    INSTRUCTOR = "instructor", "Instructor"
    SUPPORT = "support", "Support"
    ADMIN = "admin", "Admin"


# (app_label, model, actions) per role. "admin" users are superusers in all but name:
# they get every permission of the listed apps.
ROLE_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    Role.INSTRUCTOR: [
        ("course_sessions", "coursesession", ("view",)),
        ("bookings", "attendee", ("view", "change")),
    ],
    Role.SUPPORT: [
        ("users", "user", ("view", "change")),
        ("users", "activitylog", ("view",)),
        ("course_sessions", "course", ("view",)),
        ("course_sessions", "location", ("view",)),
        ("course_sessions", "coursesession", ("view",)),
        ("bookings", "booking", ("view", "change")),
        ("bookings", "attendee", ("view", "change")),
        ("bookings", "waitinglistentry", ("view", "change")),
        ("payments", "payment", ("view", "change")),
        ("payments", "paymentevent", ("view",)),
        ("payments", "stripeevent", ("view",)),
        ("payments", "dispute", ("view",)),
        ("refunds", "refund", ("view", "change")),
        ("invoicing", "invoice", ("view",)),
        ("invoicing", "creditnote", ("view",)),
        ("certificates", "certificate", ("view",)),
        ("core", "communication", ("view",)),
        ("legal", "legaldocument", ("view",)),
        ("pricing", "discountcode", ("view",)),
        ("pricing", "groupdiscount", ("view",)),
        ("bookings", "bookingdiscount", ("view",)),
        ("companies", "company", ("view", "change")),
        ("companies", "companycontact", ("view", "add", "change", "delete")),
        ("companies", "companylinkrequest", ("view", "change")),
    ],
}
ADMIN_APPS = ("users", "course_sessions", "bookings", "payments", "refunds", "invoicing",
              "certificates", "core", "auth", "authtoken", "account", "axes", "mfa", "legal",
              "pricing", "companies")
GROUP_NAMES = {Role.INSTRUCTOR: "Instructors", Role.SUPPORT: "Support", Role.ADMIN: "Admins"}


def ensure_role_groups(apps=None) -> None:
    """Create or update the role groups and their permissions (idempotent)."""
    apps = apps or global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, name in GROUP_NAMES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        if role == Role.ADMIN:
            permissions = permission_model.objects.filter(content_type__app_label__in=ADMIN_APPS)
        else:
            # A model whose app is not migrated yet (this runs from migrations) is left out:
            # that app's own migration refreshes the groups once its permissions exist.
            wanted = [(app, f"{action}_{model}") for app, model, actions in ROLE_PERMISSIONS[role]
                      for action in actions if _migrated(apps, app, model)]
            permissions = [
                permission
                for app, codename in wanted
                for permission in permission_model.objects.filter(
                    content_type__app_label=app, codename=codename)
            ]
        group.permissions.set(permissions)


def refresh_role_groups(apps, schema_editor) -> None:
    """A migration's RunPython when it adds models a role may use: Django creates
    permissions only after all migrations, so create them now, then refresh the groups."""
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    ensure_role_groups(apps)


def _migrated(apps, app_label: str, model: str) -> bool:
    try:
        apps.get_model(app_label, model)
    except LookupError:
        return False
    return True


def role_access_apply(user) -> list[str]:
    """Make a saved user's staff access exactly what their role grants, and return what
    had to be put right (empty when nothing had drifted).

    Staff (`is_staff`) is any role but customer; the superuser flag (given only by
    `createsuperuser`) stays only with the admin role; the groups are the role's group
    and no other; no permission is granted to the person directly."""
    drifted = []
    is_staff = user.role != Role.CUSTOMER
    is_superuser = user.is_superuser and user.role == Role.ADMIN
    for field, value in (("is_staff", is_staff), ("is_superuser", is_superuser)):
        if getattr(user, field) != value:
            setattr(user, field, value)
            drifted.append(field)
    if drifted:
        user.save(update_fields=drifted)
    wanted = set(Group.objects.filter(name=GROUP_NAMES[user.role]).values_list("pk", flat=True)
                 if user.role in GROUP_NAMES else [])
    if set(user.groups.values_list("pk", flat=True)) != wanted:
        user.groups.set(wanted)
        drifted.append("groups")
    if user.user_permissions.exists():
        user.user_permissions.clear()
        drifted.append("user_permissions")
    return drifted


def role_set_at_creation(*, user, actor=None) -> None:
    """A new account's role gives it its access, and a staff role given at creation is
    audited like any later change (from no role to this one)."""
    role_access_apply(user)
    if user.role != Role.CUSTOMER:
        log_action("user.role_changed", actor=actor, target=user, user=user,
                   data={"old": "", "new": user.role})


def is_admin(user) -> bool:
    return user.is_superuser or getattr(user, "role", "") == Role.ADMIN


def may_manage_account(user, account) -> bool:
    """Only admins change staff accounts (any role but customer): support setting an
    admin's password or email would be a way into the admin role. Support keeps customer
    profiles up to date."""
    if is_admin(user):
        return True
    return (account.role == Role.CUSTOMER and not account.is_staff
            and not account.is_superuser)


def is_instructor_only(user) -> bool:
    """An instructor sees only the sessions they teach, whatever else they may have."""
    return not user.is_superuser and getattr(user, "role", "") == Role.INSTRUCTOR
