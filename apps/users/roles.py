"""Staff roles as Django groups: what each role may do in the back office, in one table.
The user's role decides their group (kept in sync by user_change_role)."""

# (app_label, model, actions) per role. "admin" users are superusers in all but name:
# they get every permission of the listed apps.
ROLE_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "instructor": [
        ("course_sessions", "coursesession", ("view",)),
        ("bookings", "attendee", ("view", "change")),
    ],
    "support": [
        ("users", "user", ("view", "change")),
        ("users", "activitylog", ("view",)),
        ("course_sessions", "course", ("view",)),
        ("course_sessions", "location", ("view",)),
        ("course_sessions", "coursesession", ("view",)),
        ("bookings", "booking", ("view", "change")),
        ("bookings", "attendee", ("view", "change")),
        ("payments", "payment", ("view", "change")),
        ("payments", "paymentevent", ("view",)),
        ("payments", "stripeevent", ("view",)),
        ("payments", "dispute", ("view",)),
        ("refunds", "refund", ("view", "change")),
        ("certificates", "certificate", ("view",)),
        ("core", "communication", ("view",)),
        ("legal", "legaldocument", ("view",)),
    ],
}
ADMIN_APPS = ("users", "course_sessions", "bookings", "payments", "refunds", "certificates",
              "core", "auth", "authtoken", "account", "axes", "mfa", "legal")
GROUP_NAMES = {"instructor": "Instructors", "support": "Support", "admin": "Admins"}


def ensure_role_groups(apps=None) -> None:
    """Create or update the role groups and their permissions (idempotent)."""
    from django.apps import apps as global_apps

    apps = apps or global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, name in GROUP_NAMES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        if role == "admin":
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


def _migrated(apps, app_label: str, model: str) -> bool:
    try:
        apps.get_model(app_label, model)
    except LookupError:
        return False
    return True


def sync_role_groups(user) -> None:
    """Put a user in exactly the group of their role (none for customers)."""
    from django.contrib.auth.models import Group

    staff_groups = Group.objects.filter(name__in=GROUP_NAMES.values())
    user.groups.remove(*staff_groups)
    if user.role in GROUP_NAMES:
        user.groups.add(Group.objects.get(name=GROUP_NAMES[user.role]))


def is_admin(user) -> bool:
    return user.is_superuser or getattr(user, "role", "") == "admin"


def may_manage_account(user, account) -> bool:
    """Only admins change staff accounts (any role but customer): support setting an
    admin's password or email would be a way into the admin role. Support keeps customer
    profiles up to date."""
    if is_admin(user):
        return True
    return (account.role == "customer" and not account.is_staff
            and not account.is_superuser)


def is_instructor_only(user) -> bool:
    """An instructor sees only the sessions they teach, whatever else they may have."""
    return not user.is_superuser and getattr(user, "role", "") == "instructor"
