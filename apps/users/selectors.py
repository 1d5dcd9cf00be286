"""User reads."""

from allauth.account.models import EmailAddress

from .models import User, normalize_email


def user_for_email(*, email: str) -> User | None:
    """The account an email address routes sign-ins and bookings to, or None.

    An address belongs to the account where it is verified; failing that, to the account
    created for it (its primary address, e.g. a guest checkout, proven at the first
    sign-in by code). An address someone has only asked to change to (pending, not yet
    verified) routes nowhere: claiming an address proves nothing.
    """
    email = normalize_email(email)
    if not email:
        return None
    verified = (EmailAddress.objects.filter(email=email, verified=True)
                .select_related("user").first())
    if verified is not None:
        return verified.user
    return User.objects.filter(email=email).first()
