"""The booking as the hub: everything staff need about one booking, read in a fixed number
of queries (attendees, payments with their refunds and disputes, emails, the activity
timeline), and the sentences that state what an action will do before staff confirm it."""

from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q

from apps.bookings.models import Attendee, Booking
from apps.core.models import Communication
from apps.core.money import DEFAULT_CURRENCY, format_money
from apps.invoicing.selectors import booking_documents
from apps.payments.models import Dispute, Payment
from apps.refunds.models import Refund
from apps.refunds.services import refundable_amount
from apps.users.models import ActivityLog, User


def payment_label(payment: Payment) -> str:
    """Where money went back to: "Visa •••• 4242", or how it was paid."""
    if payment.card_last4:
        return f"{(payment.card_brand or 'card').title()} •••• {payment.card_last4}"
    if payment.method in Payment.MANUAL_METHODS:
        return "the account that paid the invoice"
    return "the card used"


def refund_consequence(*, payment: Payment, amount: int) -> str:
    """"Refund £50.00 to Visa •••• 4242; the booking stays paid." — said before staff
    confirm. The booking becomes refunded when nothing paid for it remains."""
    left_on_booking = sum(refundable_amount(p) for p in
                          Payment.objects.filter(booking_id=payment.booking_id))
    after = ("the booking becomes refunded once Stripe confirms"
             if amount >= left_on_booking else "the booking stays paid")
    if payment.method in Payment.MANUAL_METHODS:
        after += " (an invoice payment: send the money back by bank transfer yourself)"
    return f"Refund {format_money(amount, payment.currency)} to {payment_label(payment)}; {after}."


def refund_requested_message(refund: Refund) -> str:
    amount = format_money(refund.amount, refund.currency)
    if refund.status == Refund.Status.SUCCEEDED:
        return f"{amount} refunded: the money is on its way back to the customer."
    if refund.status == Refund.Status.FAILED:
        return (f"The refund of {amount} failed: {refund.failure_reason or 'Stripe refused it'}. "
                "Retry it from the refunds list.")
    return f"Refund of {amount} sent to Stripe; it shows as pending until Stripe confirms it."


@dataclass
class Timeline:
    when: object
    actor: str
    what: str
    detail: str
    source: str  # "activity" or "admin edit"


def _activity_targets(booking: Booking, payment_ids, refund_ids, attendee_ids) -> Q:
    query = Q(target_type="bookings.booking", target_id=str(booking.pk))
    for label, ids in (("payments.payment", payment_ids), ("refunds.refund", refund_ids),
                       ("bookings.attendee", attendee_ids)):
        if ids:
            query |= Q(target_type=label, target_id__in=[str(pk) for pk in ids])
    return query


def person_name(user) -> str:
    if user is None:
        return "System"
    return user.get_full_name()


# Activity data keys that hold an amount in minor units (shown as money).
MONEY_KEYS = {"amount", "refund", "refunded", "total", "total_amount", "unit_price", "price",
              "money_lost", "money_effect", "paid", "list_price", "discount"}


def describe_data(data: dict) -> str:
    """before → after when the entry says so, else its data as short key: value pairs."""
    if not data:
        return ""
    if "from" in data and "to" in data:
        return f"{data['from']} → {data['to']}"
    parts = []
    currency = str(data.get("currency") or DEFAULT_CURRENCY)
    for key, value in data.items():
        if key in MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
            parts.append(f"{key.replace('_', ' ')}: {format_money(value, currency)}")
        elif isinstance(value, dict) and {"from", "to"} <= set(value):
            parts.append(f"{key}: {value['from']} → {value['to']}")
        else:
            parts.append(f"{key}: {value}")
    return "; ".join(parts)


def activity_timeline(*, activity_query: Q, log_entries=()) -> list[Timeline]:
    """The domain activity log and admin edits as one list, newest first."""
    rows = [Timeline(when=entry.created_at, actor=person_name(entry.actor),
                     what=entry.action, detail=describe_data(entry.data), source="activity")
            for entry in ActivityLog.objects.filter(activity_query).select_related("actor")]
    rows += [Timeline(when=entry.action_time, actor=person_name(entry.user),
                      what={1: "admin: added", 2: "admin: changed", 3: "admin: deleted"}.get(
                          entry.action_flag, "admin"),
                      detail=entry.get_change_message(), source="admin edit")
             for entry in log_entries]
    return sorted(rows, key=lambda row: row.when, reverse=True)


def admin_edits(obj) -> list[LogEntry]:
    return list(LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_id=str(obj.pk),
    ).select_related("user"))


def booking_hub(booking: Booking) -> dict:
    """Everything on the booking's page, in a fixed number of queries."""
    attendees = list(Attendee.objects.filter(booking=booking).select_related("user")
                     .order_by("pk"))
    payments = list(Payment.objects.filter(booking=booking).order_by("created_at").prefetch_related(
        Prefetch("refunds", queryset=Refund.objects.select_related("created_by")
                 .order_by("created_at")),
        Prefetch("disputes", queryset=Dispute.objects.order_by("created_at"))))
    for payment in payments:
        # refundable_amount's rule, read from the prefetched rows (a test holds them equal).
        payment.refundable = max(0, payment.amount - sum(
            refund.amount for refund in payment.refunds.all()
            if refund.status in Refund.NOT_FAILED) - sum(
            dispute.money_lost for dispute in payment.disputes.all())
        ) if payment.has_succeeded else 0
        payment.label = payment_label(payment)
    refunds = [refund for payment in payments for refund in payment.refunds.all()]
    disputes = [dispute for payment in payments for dispute in payment.disputes.all()]
    communications = list(Communication.objects.filter(booking=booking)
                          .order_by("-created_at")[:50])
    timeline = activity_timeline(activity_query=_activity_targets(
        booking, [p.pk for p in payments], [r.pk for r in refunds], [a.pk for a in attendees]))
    return {"attendees": attendees, "payments": payments, "refunds": refunds,
            "disputes": disputes, "communications": communications, "timeline": timeline,
            "refundable_payments": [p for p in payments if p.refundable > 0],
            "documents": booking_documents(booking_id=booking.pk)}


def history_activity_query(obj) -> Q:
    """The activity entries an object's History shows: about it, and about the records
    that belong to it (a booking's payments, refunds and attendees; a payment's refunds;
    everything about a person)."""
    label, pk = obj._meta.label_lower, str(obj.pk)
    own = Q(target_type=label, target_id=pk)
    if label == "bookings.booking":
        payment_ids = list(Payment.objects.filter(booking=obj).values_list("pk", flat=True))
        return _activity_targets(
            obj, payment_ids,
            list(Refund.objects.filter(payment_id__in=payment_ids).values_list("pk", flat=True)),
            list(Attendee.objects.filter(booking=obj).values_list("pk", flat=True)))
    if label == "payments.payment":
        refund_ids = [str(pk) for pk in obj.refunds.values_list("pk", flat=True)]
        return own | Q(target_type="refunds.refund", target_id__in=refund_ids)
    if label == "users.user":
        return own | Q(user_id=obj.pk)
    return own


TARGET_LABELS = {
    "bookings.booking": (Booking, lambda b: b.reference),
    "users.user": (User, lambda u: u.get_full_name()),
    "payments.payment": (Payment, lambda p: f"Payment {format_money(p.amount, p.currency)} "
                                            f"for {p.booking.reference}"),
    "refunds.refund": (Refund, lambda r: f"Refund {format_money(r.amount, r.currency)} "
                                         f"for {r.payment.booking.reference}"),
    "bookings.attendee": (Attendee, lambda a: f"{a.name} on {a.booking.reference}"),
}
TARGET_RELATED = {"payments.payment": ["booking"], "refunds.refund": ["payment__booking"],
                  "bookings.attendee": ["booking"]}


def activity_target_names(entries) -> dict[tuple[str, str], str]:
    """{(target_type, target_id): "BK-7K3M9Q" / "Priya Shah" / …} for a page of activity
    entries: one query per kind of target, not one per row."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        if entry.target_type in TARGET_LABELS and entry.target_id.isdigit():
            wanted.setdefault(entry.target_type, set()).add(entry.target_id)
    names = {}
    for label, ids in wanted.items():
        model, name = TARGET_LABELS[label]
        rows = model.objects.filter(pk__in=ids)
        if label in TARGET_RELATED:
            rows = rows.select_related(*TARGET_RELATED[label])
        names.update({(label, str(row.pk)): name(row) for row in rows})
    return names
