"""How staff sign in: a password (django-axes counts failures) and a second factor
(allauth MFA), never an emailed code. One place for the rules the adapter, the sign-in
code form, the middleware and the admin login page share."""

from allauth.mfa.models import Authenticator

from .models import User

# Roles that must have a second factor before they may do anything signed in; instructors
# are offered one (once set up, allauth asks for it at every sign-in).
SECOND_FACTOR_REQUIRED_ROLES = frozenset({User.Role.ADMIN, User.Role.SUPPORT})
SETUP_PENDING_SESSION_KEY = "staff_second_factor_setup_pending"


def is_staff_account(user) -> bool:
    return bool(user.is_staff or user.is_superuser or user.role != User.Role.CUSTOMER)


def must_set_up_second_factor(user) -> bool:
    required = user.is_superuser or user.role in SECOND_FACTOR_REQUIRED_ROLES
    return required and not Authenticator.objects.filter(
        user=user, type=Authenticator.Type.TOTP).exists()
