"""Erasing a customer's account (the portal's "Delete my account"): their upcoming bookings
are cancelled first, each with the refund the cancellation policy gives, so no seat is held
for "Deleted person" and no money is kept for a course nobody will attend; then their
personal data goes (user_anonymise, below). Certificates stay: others rely on
verifying them, under the holder's name."""

from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.bookings.idempotency import idempotency_keys_erase
from apps.bookings.models import Attendee, Booking
from apps.certificates.models import Certificate
from apps.companies.models import CompanyContact, CompanyLinkRequest
from apps.core.models import Communication
from apps.payments.models import Dispute, Payment, StripeEvent
from apps.refunds.cancellation import booking_cancel
from apps.refunds.models import Refund
from apps.refunds.policy import CancellationQuote, cancellation_quote
from apps.refunds.services import refundable_amount
from apps.users.audit import log_action
from apps.users.models import ActivityLog, MarketingConsentChange, User, UserNote

from .retention import stripe_payload_accounting_only

ERASURE_REASON = "Account erased at the customer's request"


@dataclass(frozen=True)
class UpcomingBooking:
    booking: Booking
    quote: CancellationQuote


def erasure_preview(*, user: User, now: datetime | None = None) -> dict:
    """What erasing the account would do: the upcoming bookings it cancels, each with its
    refund under the policy, and the certificates that stay."""
    now = now or timezone.now()
    bookings = (Booking.objects.filter(purchaser=user, session__starts_at__gt=now,
                                       status__in=[Booking.Status.PENDING, Booking.Status.PAID])
                .select_related("session__course", "session__location")
                .prefetch_related("payments").order_by("session__starts_at"))
    upcoming = [
        UpcomingBooking(booking=booking, quote=cancellation_quote(
            booking=booking, now=now,
            paid=sum(refundable_amount(p) for p in booking.payments.all())))
        for booking in bookings
    ]
    certificates = list(Certificate.objects.filter(user=user).select_related("course")
                        .order_by("-issued_on"))
    return {"upcoming": upcoming, "certificates": certificates}


def customer_erase(*, user: User, now: datetime | None = None) -> list[Refund]:
    """Cancel the customer's upcoming bookings with the policy's refunds (as if they had
    cancelled each one now), then erase their personal data. A booking that cannot be
    cancelled stops the erasure (DomainError) with nothing erased; cancellations done by
    then stand, as they would have from the portal."""
    now = now or timezone.now()
    refunds = []
    for item in erasure_preview(user=user, now=now)["upcoming"]:
        refunds += booking_cancel(booking_id=item.booking.pk, actor=user,
                                  reason=ERASURE_REASON, initiator=Refund.Initiator.CUSTOMER,
                                  refund_amount=item.quote.amount, now=now)
    user_anonymise(user=user, actor=user)
    return refunds


def user_anonymise(*, user: User, actor: User | None = None) -> User:
    """Erase a person while keeping the accounting: bookings and payments keep amounts and
    dates; names, emails, phone and staff notes go, and so do the free-text reasons and
    addresses copied into their activity history (the ledger rows themselves are never
    rewritten). The account can no longer sign in. Upcoming bookings are the caller's to
    cancel first (customer_erase, above)."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.anonymised_at:
            return locked
        placeholder = f"deleted-{locked.pk}@deleted.invalid"
        Attendee.all_objects.filter(user=locked).update(name="Deleted person", email=placeholder)
        Booking.objects.filter(purchaser=locked).update(company_name="",
                                                         special_requirements="")
        EmailAddress.objects.filter(user=locked).delete()
        UserNote.objects.filter(user=locked).delete()
        # No longer books for any company; their "I book for…" requests and messages go.
        CompanyContact.objects.filter(user=locked).delete()
        CompanyLinkRequest.objects.filter(user=locked).delete()
        _erase_activity_free_text(user=locked)
        idempotency_keys_erase(user=locked)  # no replay of their bookings' API keys
        _erase_stripe_event_payloads(user=locked)
        if locked.marketing_consent:
            MarketingConsentChange.objects.create(
                user=locked, given=False, source=MarketingConsentChange.Source.ERASURE,
                actor=actor if getattr(actor, "pk", None) else None,
                created_at=timezone.now())
        Communication.objects.filter(user=locked).update(recipient=placeholder,
                                                          body="[removed at the person's request]",
                                                          html_body="")
        locked.email = placeholder
        locked.first_name = locked.last_name = locked.phone = locked.company_name = ""
        locked.marketing_consent = False
        locked.is_active = False
        locked.stripe_customer_id = ""
        locked.set_unusable_password()
        locked.anonymised_at = timezone.now()
        locked.save()
        log_action("user.anonymised", actor=actor or locked, target=locked, user=locked)
    return locked


def _erase_stripe_event_payloads(*, user: User) -> None:
    """Stored Stripe events about this person's payments (intents, charges, refunds,
    disputes and fraud warnings carry names, emails and billing addresses) keep only their
    accounting fields, as the 7-year retention does."""
    intents = list(Payment.objects.filter(user=user, stripe_payment_intent_id__isnull=False)
                   .values_list("stripe_payment_intent_id", flat=True))
    disputes = list(Dispute.objects.filter(payment__user=user)
                    .values_list("stripe_dispute_id", flat=True))
    if not intents and not disputes:
        return
    events = StripeEvent.objects.filter(
        Q(object_id__in=intents + disputes)
        | Q(payload__data__object__payment_intent__in=intents))
    for event in events.only("pk", "payload"):
        if not event.payload.get("redacted"):
            StripeEvent.objects.filter(pk=event.pk).update(
                payload=stripe_payload_accounting_only(event.payload))


ERASED = "[removed at the person's request]"
ERASABLE_ACTIVITY_ACTIONS_FOR_OLD_NEW = ("user.email_changed",)


def _erase_activity_free_text(*, user: User) -> None:
    for entry in ActivityLog.objects.filter(user=user).filter(
            Q(data__has_key="reason")
            | Q(action__in=ERASABLE_ACTIVITY_ACTIONS_FOR_OLD_NEW)).only("data", "action"):
        keys = ["reason"] + (["old", "new"] if entry.action in
                             ERASABLE_ACTIVITY_ACTIONS_FOR_OLD_NEW else [])
        entry.data = {**entry.data, **{k: ERASED for k in keys if k in entry.data}}
        entry.save(update_fields=["data"])
