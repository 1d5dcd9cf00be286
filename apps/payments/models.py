import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_stripe_key_nonce() -> str:
    """The random part of a payment's Stripe idempotency keys (see Payment.idempotency_key)."""
    return secrets.token_hex(8)


class Payment(models.Model):
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

    class Method(models.TextChoices):
        CARD = "card", "Card (Stripe)"
        INVOICE = "invoice", "Invoice / bank transfer"

    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.PROTECT, related_name="payments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.CARD)
    stripe_payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    amount = models.PositiveIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3, default="GBP")
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
        return self.status in {
            self.Status.SUCCEEDED,
            self.Status.PARTIALLY_REFUNDED,
            self.Status.REFUNDED,
        }


class StripeEvent(models.Model):
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


class PaymentEvent(models.Model):
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
