import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.bookings.models import TransitionError
from apps.core.ledger import LedgerModel
from apps.core.money import DEFAULT_CURRENCY


def new_stripe_key_nonce() -> str:
    """The random part of a payment's Stripe idempotency keys (see Payment.idempotency_key)."""
    return secrets.token_hex(8)


class Payment(LedgerModel):
    """One attempt to take money for a booking. A booking may have several (a declined
    card then a good one; a balance paid later). Only the card brand and last four
    digits are kept."""

    class Status(models.TextChoices):
        REQUIRES_PAYMENT = "requires_payment", "Awaiting card"
        REQUIRES_ACTION = "requires_action", "Awaiting 3-D Secure"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Cancelled"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"

    # The statuses that mean the money arrived (a payment that succeeded stays money that
    # arrived once partly or fully refunded: its refunds are counted separately).
    MONEY_ARRIVED = frozenset({Status.SUCCEEDED, Status.PARTIALLY_REFUNDED, Status.REFUNDED})
    # Waiting for the customer or the bank: an intent that may still be paid or cancelled.
    OPEN = frozenset({Status.REQUIRES_PAYMENT, Status.REQUIRES_ACTION})

    # The only way a payment's status may move; staying in the same status is not a move.
    # Stripe reports in any order: a success may arrive after a failure, a cancellation or
    # a superseded attempt (it is then counted and, when not needed, refunded); money that
    # arrived only moves between its refund states.
    TRANSITIONS = {
        Status.REQUIRES_PAYMENT: frozenset({
            Status.REQUIRES_ACTION, Status.PROCESSING, Status.SUCCEEDED, Status.FAILED,
            Status.CANCELED}),
        Status.REQUIRES_ACTION: frozenset({
            Status.REQUIRES_PAYMENT, Status.PROCESSING, Status.SUCCEEDED, Status.FAILED,
            Status.CANCELED}),
        Status.PROCESSING: frozenset({
            Status.REQUIRES_PAYMENT, Status.REQUIRES_ACTION, Status.SUCCEEDED, Status.FAILED,
            Status.CANCELED}),
        Status.FAILED: frozenset({Status.SUCCEEDED}),
        Status.CANCELED: frozenset({Status.SUCCEEDED}),
        Status.SUCCEEDED: frozenset({Status.PARTIALLY_REFUNDED, Status.REFUNDED}),
        Status.PARTIALLY_REFUNDED: frozenset({Status.SUCCEEDED, Status.REFUNDED}),
        Status.REFUNDED: frozenset({Status.SUCCEEDED, Status.PARTIALLY_REFUNDED}),
    }

    class Method(models.TextChoices):
        CARD = "card", "Card (Stripe)"
        INVOICE = "invoice", "Invoice / bank transfer"
        BANK_TRANSFER = "bank_transfer", "Bank transfer (against a booking on account)"

    # Money that came outside Stripe: staff send any refund back themselves.
    MANUAL_METHODS = frozenset({Method.INVOICE, Method.BANK_TRANSFER})

    class Purpose(models.TextChoices):
        BOOKING = "booking", "Booking"
        # What a paid booking still owed (a move to a dearer date): it never re-confirms
        # the booking (apps/payments/balance.py).
        BALANCE = "balance", "Balance owed"

    # A balance attempt that may still charge: at most one per booking (the constraint).
    BALANCE_IN_FLIGHT = frozenset({Status.REQUIRES_PAYMENT, Status.REQUIRES_ACTION,
                                   Status.PROCESSING})

    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.PROTECT, related_name="payments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    method = models.CharField(max_length=20, choices=Method.choices, default=Method.CARD)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.BOOKING,
                               editable=False)
    stripe_payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    amount = models.PositiveIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.REQUIRES_PAYMENT, editable=False
    )
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    stripe_key_nonce = models.CharField(max_length=32, default=new_stripe_key_nonce,
                                        editable=False)
    # The Payment Element's ConfirmationToken this attempt was sent with (its retry after no
    # answer must send the same one, under the same idempotency key).
    stripe_confirmation_token = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_gt_0"),
            models.UniqueConstraint(
                fields=["booking", "attempt"], name="payment_attempt_unique_per_booking"
            ),
            # Never two attempts charging the same balance at once.
            models.UniqueConstraint(
                fields=["booking"], name="payment_one_open_balance_per_booking",
                condition=Q(purpose="balance",
                            status__in=["requires_payment", "requires_action", "processing"]),
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="payment_status_idx"),
            models.Index(fields=["-created_at"], name="payment_created_idx"),
        ]

    def __str__(self):
        return self.stripe_payment_intent_id or f"Payment {self.pk}"

    @property
    def idempotency_key(self):
        """The same attempt always asks Stripe with the same key (a retry after a timeout
        cannot charge twice), and no other attempt, database or environment sharing the
        Stripe account ever sends it: the random nonce is stored on the row, so a restored
        database or a second deployment with the same ids makes different keys."""
        return f"payment-{self.booking_id}-{self.attempt}-{self.stripe_key_nonce}"

    @property
    def has_succeeded(self):
        return self.status in self.MONEY_ARRIVED

    def can_become(self, new_status: str) -> bool:
        return new_status == self.status or new_status in self.TRANSITIONS[self.status]

    def move_to(self, new_status: str) -> None:
        """Set the status along the table (the caller saves); an illegal move raises."""
        if not self.can_become(new_status):
            raise TransitionError(
                f"A payment that is {self.get_status_display().lower()} cannot become "
                f"{self.Status(new_status).label.lower()}.")
        self.status = new_status


class StripeEvent(LedgerModel):
    """A webhook delivery, stored once by Stripe's event id before anything else happens."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        PARKED = "parked", "Parked (needs staff)"

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    stripe_created = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"], name="stripe_event_status_idx")]

    def __str__(self):
        return f"{self.type} {self.stripe_id}"


class PaymentEvent(LedgerModel):
    """Everything that happened to a payment, from us or from Stripe, in order."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=60)
    stripe_event = models.ForeignKey(
        StripeEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="payment_events"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.kind


class Dispute(LedgerModel):
    """A chargeback (or an inquiry) against a payment, as Stripe's dispute events describe
    it. The money it costs us is the sum of its events' `money_effect` (a ledger of
    append-only rows); the fields here are the latest state those events showed."""

    class Status(models.TextChoices):
        WARNING_NEEDS_RESPONSE = "warning_needs_response", "Inquiry: needs response"
        WARNING_UNDER_REVIEW = "warning_under_review", "Inquiry: under review"
        WARNING_CLOSED = "warning_closed", "Inquiry closed"
        NEEDS_RESPONSE = "needs_response", "Needs response"
        UNDER_REVIEW = "under_review", "Under review"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        PREVENTED = "prevented", "Prevented"

    CLOSED = frozenset({Status.WARNING_CLOSED, Status.WON, Status.LOST, Status.PREVENTED})
    OPEN = frozenset(set(Status) - CLOSED)

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    amount = models.PositiveIntegerField(help_text="Disputed amount, minor units.")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    reason = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=30, choices=Status.choices, editable=False)
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    funds_withdrawn = models.BooleanField(default=False, editable=False)
    funds_reinstated = models.BooleanField(default=False, editable=False)
    money_lost = models.PositiveIntegerField(
        default=0, editable=False,
        help_text="What the dispute costs us now (minor units): the sum of its events' effects.")
    status_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="Stripe's time of the event that set the status.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="dispute_status_idx")]

    def __str__(self):
        return self.stripe_dispute_id

    @property
    def is_open(self) -> bool:
        return self.status not in self.CLOSED


class DisputeEvent(LedgerModel):
    """One Stripe dispute event as applied, never changed: `money_effect` is how much more
    (or, negative, less) the dispute cost us after it."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="events")
    stripe_event = models.ForeignKey(StripeEvent, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="dispute_events")
    source_id = models.CharField(
        max_length=255, unique=True,
        help_text="Stripe's event id, or 'reconcile:…' when reconciliation applied it.")
    type = models.CharField(max_length=60)
    status = models.CharField(max_length=30)
    money_effect = models.IntegerField(default=0)
    stripe_created = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.type} {self.source_id}"


class ReconciliationRun(models.Model):
    """One nightly reconciliation: it looks at what changed at Stripe (Stripe's events)
    since the high-water mark of the last run that finished, so its cost follows the
    changes, not the history."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    since = models.DateTimeField(help_text="Stripe events created from this moment were read.")
    high_water = models.DateTimeField(
        null=True, blank=True, help_text="Newest Stripe event seen: where the next run starts.")
    events_seen = models.PositiveIntegerField(default=0)
    objects_checked = models.PositiveIntegerField(default=0)
    differences = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["succeeded", "-finished_at"],
                                name="reconcile_run_done_idx")]

    def __str__(self):
        return f"Reconciliation {self.started_at:%Y-%m-%d %H:%M}"
