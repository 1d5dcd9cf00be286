"""User reads."""

from allauth.account.models import EmailAddress
from django.db import connection

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
    those that route to one (a verified address first, else the account's own address).
    One statement when nobody is known (a booking's new people), two otherwise."""
    emails = sorted({normalize_email(email) for email in emails} - {""})
    if not emails:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(routes_sql(len(emails)), [*emails, *emails])
        routes: dict[str, int] = {}
        for email, user_id in cursor.fetchall():
            routes.setdefault(email, user_id)
    if not routes:
        return {}
    users = User.objects.in_bulk(set(routes.values()))
    return {email: users[user_id] for email, user_id in routes.items() if user_id in users}


# Where each address routes, best first (a verified address, then an account's own).
# Table names come from the models; the addresses are parameters (`IN` with one marker per
# address rather than PostgreSQL's `= ANY(array)`: the embedded demo runs on SQLite).
_ADDRESSES, _USERS = EmailAddress._meta.db_table, User._meta.db_table


def routes_sql(count: int) -> str:
    marks = ", ".join(["%s"] * count)
    return (
        "SELECT email, user_id FROM ("  # noqa: S608
        f'SELECT email, user_id, 0 AS rank FROM "{_ADDRESSES}" '
        f"WHERE email IN ({marks}) AND verified "
        f'UNION ALL SELECT email, id, 1 FROM "{_USERS}" WHERE email IN ({marks})'
        ") AS routes ORDER BY rank, user_id")
