from rest_framework.permissions import BasePermission

from apps.users.models import User

STAFF_API_ROLES = frozenset({User.Role.ADMIN, User.Role.SUPPORT})


class IsStaffOperator(BasePermission):
    """Staff integrations: staff accounts whose role is admin or support. Instructors (who
    are staff for the admin site) and customers get a 403."""

    message = "Only admin and support staff can use this endpoint."

    def has_permission(self, request, view):
        user = request.user
        return bool(
            user and user.is_authenticated and user.is_active and user.is_staff
            and user.role in STAFF_API_ROLES
        )
