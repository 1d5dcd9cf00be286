"""User reads."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import (
    BigIntegerField,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from .models import User, normalize_email


def _with_expected_totals(users: QuerySet) -> QuerySet:
    """Annotate `expected_bookings` and `expected_spent`, derived from the ledger.

    One SELECT with correlated subqueries, so the stored and the derived values it returns
    come from the same snapshot of the database.

    - bookings: those the user purchased whose status counts (bookings.COUNTED_STATUSES);
    - spent: the user's payments that succeeded (even if refunded since), minus the
      refunds that succeeded on them, minus what disputes on them cost us (lost, or
      funds withdrawn by the bank).
    """
    from apps.bookings.models import COUNTED_STATUSES, Booking
    from apps.payments.models import Dispute, Payment
    from apps.refunds.models import Refund

    counted = (
        Booking.objects.filter(purchaser=OuterRef("pk"), status__in=COUNTED_STATUSES)
        .order_by().values("purchaser").annotate(n=Count("pk")).values("n")
    )
    paid = (
        Payment.objects.filter(
            user=OuterRef("pk"),
            status__in=Payment.MONEY_ARRIVED,
        )
        .order_by().values("user").annotate(s=Sum("amount")).values("s")
    )
    refunded = (
        Refund.objects.filter(payment__user=OuterRef("pk"), status=Refund.Status.SUCCEEDED)
        .order_by().values("payment__user").annotate(s=Sum("amount")).values("s")
    )
    disputed = (
        Dispute.objects.filter(payment__user=OuterRef("pk"), money_lost__gt=0)
        .order_by().values("payment__user").annotate(s=Sum("money_lost")).values("s")
    )
    big = BigIntegerField()
    return users.annotate(
        expected_bookings=Coalesce(Subquery(counted, output_field=big), Value(0)),
        expected_spent=(
            Coalesce(Subquery(paid, output_field=big), Value(0))
            - Coalesce(Subquery(refunded, output_field=big), Value(0))
            - Coalesce(Subquery(disputed, output_field=big), Value(0))
        ),
    )


def _users(user_ids: Iterable[int] | None) -> QuerySet:
    users = User.objects.order_by("pk")
    return users if user_ids is None else users.filter(pk__in=list(user_ids))


def user_totals_expected(*, user_ids: Iterable[int] | None = None) -> dict[int, tuple[int, int]]:
    """`{user id: (total_bookings, total_spent)}` as the ledger says they should be, for
    every user (or those in `user_ids`). One query, whatever the number of users."""
    rows = _with_expected_totals(_users(user_ids)).values_list(
        "pk", "expected_bookings", "expected_spent"
    )
    return {pk: (bookings, spent) for pk, bookings, spent in rows}


@dataclass(frozen=True)
class TotalsDrift:
    user_id: int
    email: str
    stored_bookings: int
    stored_spent: int
    expected_bookings: int
    expected_spent: int


def user_totals_drift(*, user_ids: Iterable[int] | None = None) -> list[TotalsDrift]:
    """Users whose stored totals disagree with the ledger (one query; the comparison
    runs in the database, so only the drifted rows come back)."""
    rows = (
        _with_expected_totals(_users(user_ids))
        .filter(~Q(total_bookings=F("expected_bookings")) | ~Q(total_spent=F("expected_spent")))
        .values_list("pk", "email", "total_bookings", "total_spent",
                     "expected_bookings", "expected_spent")
    )
    return [
        TotalsDrift(user_id=pk, email=email, stored_bookings=stored_b, stored_spent=stored_s,
                    expected_bookings=expected_b, expected_spent=expected_s)
        for pk, email, stored_b, stored_s, expected_b, expected_s in rows
    ]


def user_for_email(*, email: str) -> User | None:
    """The account an email address routes sign-ins and bookings to, or None.

    An address belongs to the account where it is verified; failing that, to the account
    created for it (its primary address, e.g. a guest checkout, proven at the first
    sign-in by code). An address someone has only asked to change to (pending, not yet
    verified) routes nowhere: claiming an address proves nothing.
    """
    from allauth.account.models import EmailAddress

    email = normalize_email(email)
    if not email:
        return None
    verified = (EmailAddress.objects.filter(email=email, verified=True)
                .select_related("user").first())
    if verified is not None:
        return verified.user
    return User.objects.filter(email=email).first()
