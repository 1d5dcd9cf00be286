from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.ledger import LedgerModel


class Communication(LedgerModel):
    """Every email the portal sends, so staff can read it and nothing is sent twice.

    `dedupe_key` names the thing a message is about (a booking reference, a
    certificate number plus a reminder window); the database refuses a second row with
    the same kind, recipient and key, whatever the code around it does, and a second row
    with the same kind, person (user) and key, so a person whose address is corrected
    is not told the same thing again at the new address.
    """

    class Kind(models.TextChoices):
        BOOKING_CONFIRMATION = "booking_confirmation", "Booking confirmation"
        BOOKING_CHANGED = "booking_changed", "Booking changed (date, time or venue)"
        BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        HOLD_EXPIRED = "hold_expired", "Hold expired"
        LATE_PAYMENT_REFUNDED = "late_payment_refunded", "Late payment refunded"
        PAYMENT_LINK = "payment_link", "Payment link"
        PAYMENT_RECEIVED = "payment_received", "Payment received (a balance paid)"
        SESSION_REMINDER = "session_reminder", "Session reminder"
        SESSION_CANCELLED = "session_cancelled", "Session cancelled"
        REFUND_ISSUED = "refund_issued", "Refund issued"
        REFUND_FAILED = "refund_failed", "Refund failed"
        CERTIFICATE_ISSUED = "certificate_issued", "Certificate issued"
        CERTIFICATE_EXPIRY = "certificate_expiry", "Certificate expiry reminder"
        STAFF_ALERT = "staff_alert", "Staff alert"
        EMAIL_CHANGED = "email_changed", "Email address changed"
        WAITLIST_JOINED = "waitlist_joined", "Waiting list: joined"
        WAITLIST_OFFER = "waitlist_offer", "Waiting list: seats offered"
        ACCOUNT = "account", "Account (sign-in code, address confirmation, password)"
        BOOKING_LINK = "booking_link", "Booking link (a fresh one, asked for)"
        COMPANY_LINK_DECISION = "company_link_decision", "Company link request decided"
        ON_ACCOUNT_REMINDER = "on_account_reminder", "On-account payment reminder"
        ON_ACCOUNT_RELEASED = "on_account_released", "Unpaid on-account booking released"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    recipient = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="communications",
    )
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="communications",
    )
    subject = models.CharField(max_length=255)
    body = models.TextField(help_text="The plain-text part, as sent.")
    html_body = models.TextField(
        blank=True, default="",
        help_text="The HTML part, as sent (made from the text part); empty on older emails.")
    carries_secret = models.BooleanField(
        default=False, editable=False,
        help_text="It carried a sign-in code or a link that signs in or sets a password: its "
                  "body is removed once it has been sent, so nobody reading the log can use it.")
    attachments = models.JSONField(
        default=list, blank=True,
        help_text="Attachments: filename, mimetype, and content (text) or content_base64.",
    )
    dedupe_key = models.CharField(max_length=120, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "recipient", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="communication_once_per_kind_recipient",
            ),
            models.UniqueConstraint(
                fields=["kind", "user", "dedupe_key"],
                condition=~Q(dedupe_key="") & Q(user__isnull=False),
                name="communication_once_per_kind_user",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="communication_status_idx"),
            models.Index(fields=["recipient"], name="communication_recipient_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.recipient}"
