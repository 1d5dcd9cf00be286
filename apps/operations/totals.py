"""Users' stored totals (`total_bookings`, `total_spent`) against the ledger: the services
keep them exact in the transactions that change bookings, payments, refunds and disputes;
these reads and the fix prove it (`recompute_user_totals`, the data-quality check)."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
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

from apps.bookings.models import COUNTED_STATUSES, Booking
from apps.payments.models import Dispute, Payment
from apps.refunds.models import Refund
from apps.users.audit import log_action
from apps.users.models import User


def _with_expected_totals(users: QuerySet) -> QuerySet:
    """Annotate `expected_bookings` and `expected_spent`, derived from the ledger.

    One SELECT with correlated subqueries, so the stored and the derived values it returns
    come from the same snapshot of the database.

    - bookings: those the user purchased whose status counts (bookings.COUNTED_STATUSES);
    - spent: the user's payments that succeeded (even if refunded since), minus the
      refunds that succeeded on them, minus what disputes on them cost us (lost, or
      funds withdrawn by the bank).
    """
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


def user_totals_fix(*, user_id: int) -> TotalsDrift | None:
    """Set one user's totals to what the ledger says, under their row lock. Returns the
    drift that was fixed, or None when the totals were right by then.

    The services change a user's totals with UPDATEs in the same transaction as the
    ledger rows, so once we hold the row lock, every ledger change we can see is counted
    in the stored totals and every one we cannot see will add itself after we commit.
    """
    with transaction.atomic():
        if not User.objects.select_for_update().filter(pk=user_id).exists():
            return None
        drift = next(iter(user_totals_drift(user_ids=[user_id])), None)
        if drift is None:
            return None
        fixed = User.objects.filter(
            pk=user_id, total_bookings=drift.stored_bookings, total_spent=drift.stored_spent
        ).update(total_bookings=drift.expected_bookings, total_spent=drift.expected_spent)
        if not fixed:
            return None
        log_action(
            "user.totals_recomputed", target=User(pk=user_id), user=user_id,
            data={"stored": {"total_bookings": drift.stored_bookings,
                             "total_spent": drift.stored_spent},
                  "expected": {"total_bookings": drift.expected_bookings,
                               "total_spent": drift.expected_spent}},
        )
    return drift
