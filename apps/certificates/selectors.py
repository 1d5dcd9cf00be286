"""Certificate reads."""

from .models import Certificate

# A verification code is `secrets.token_urlsafe(16)` (22 characters); the column holds 40.
MAX_CODE_LENGTH = 40
MAX_NUMBER_LENGTH = 20


def certificate_for_verification(*, code: str) -> Certificate | None:
    """The certificate whose public verification code this is, with its course; None
    when there is none. The code must match exactly (it is case-sensitive)."""
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    return Certificate.objects.select_related("course").filter(verification_code=code).first()


def certificate_for_owner(*, user, number: str) -> Certificate | None:
    """The certificate with this number if it is this user's own; None otherwise (another
    person's certificate and a number that does not exist look the same)."""
    if not getattr(user, "is_authenticated", False) or not number:
        return None
    if len(number) > MAX_NUMBER_LENGTH:
        return None
    return (
        Certificate.objects.select_related("course", "session__trainer")
        .filter(number=number.upper(), user_id=user.pk)
        .first()
    )


def certificate_for_staff(*, user, number: str) -> Certificate | None:
    """Any certificate by number, for staff with the `certificates.view_certificate`
    permission; None for everyone else."""
    if not (getattr(user, "is_staff", False) and user.is_active
            and user.has_perm("certificates.view_certificate")):
        return None
    if not number or len(number) > MAX_NUMBER_LENGTH:
        return None
    return (
        Certificate.objects.select_related("course", "session__trainer")
        .filter(number=number.upper())
        .first()
    )
