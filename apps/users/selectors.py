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


def users_for_emails(*, emails) -> dict[str, User]:
    """`user_for_email` for several addresses at once: {normalised address: account} for
    those that route to one. Two queries, whatever the number of addresses."""
    emails = sorted({normalize_email(email) for email in emails} - {""})
    if not emails:
        return {}
    found = {address.email: address.user for address in EmailAddress.objects.filter(
        email__in=emails, verified=True).select_related("user")}
    missing = [email for email in emails if email not in found]
    if missing:
        for user in User.objects.filter(email__in=missing):
            found.setdefault(user.email, user)
    return found
