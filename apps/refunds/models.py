from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.bookings.models import TransitionError
from apps.core.ledger import LedgerModel
from apps.core.money import DEFAULT_CURRENCY
from apps.payments.models import new_stripe_key_nonce


class Refund(LedgerModel):
    """Money going back on one payment, full or partial. The sum of refunds that have
    not failed never exceeds the payment: refunds.services locks the payment row."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    # Refunds that count against what can still be refunded: every one that has not failed.
    NOT_FAILED = frozenset({Status.PENDING, Status.SUCCEEDED})

    # The only way a refund's status may move. A refund that succeeded may still fail (the
    # card issuer rejects it later); a failed one never comes back.
    TRANSITIONS = {
        Status.PENDING: frozenset({Status.SUCCEEDED, Status.FAILED}),
        Status.SUCCEEDED: frozenset({Status.FAILED}),
        Status.FAILED: frozenset(),
    }

    class Initiator(models.TextChoices):
        STAFF = "staff", "Staff"
        CUSTOMER = "customer", "Customer cancellation"
        AUTOMATIC = "automatic", "Automatic"
        SESSION_CANCELLED = "session_cancelled", "Session cancelled"
        STRIPE = "stripe", "Stripe dashboard"

    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.PositiveIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, editable=False
    )
    initiator = models.CharField(max_length=20, choices=Initiator.choices)
    reason = models.CharField(max_length=500, blank=True)

    class StripeReason(models.TextChoices):
        """The reasons Stripe's Refund API accepts (shown in its dashboard and reports)."""
        NONE = "", "None given"
        REQUESTED_BY_CUSTOMER = "requested_by_customer", "Requested by the customer"
        DUPLICATE = "duplicate", "Duplicate payment"
        FRAUDULENT = "fraudulent", "Fraudulent"

    stripe_reason = models.CharField(max_length=30, choices=StripeReason.choices, blank=True,
                                     default="", editable=False)
    stripe_key_nonce = models.CharField(max_length=32, default=new_stripe_key_nonce,
                                        editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refunds_created",
    )
    stripe_refund_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    submitted_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was sent to Stripe (claimed once)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
        ]
        indexes = [models.Index(fields=["status"], name="refund_status_idx")]

    def __str__(self):
        return self.stripe_refund_id or f"Refund {self.pk}"

    def can_become(self, new_status: str) -> bool:
        return new_status in self.TRANSITIONS[self.status]

    def move_to(self, new_status: str) -> None:
        """Set the status along the table (the caller saves); an illegal move raises."""
        if not self.can_become(new_status):
            raise TransitionError(
                f"A refund that is {self.get_status_display().lower()} cannot become "
                f"{self.Status(new_status).label.lower()}.")
        self.status = new_status

    @property
    def idempotency_key(self):
        """Unique to this refund and this deployment (the nonce is stored on the row): a
        restored database or another environment on the same Stripe account never sends a
        key Stripe has already seen for another refund."""
        return f"refund-{self.pk}-{self.stripe_key_nonce}"
