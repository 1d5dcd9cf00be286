import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from apps.core.errors import ConflictError
from apps.core.fields import EncryptedOptionalText
from apps.core.money import DEFAULT_CURRENCY
from apps.pricing.models import DiscountSource

REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the phone


def new_reference() -> str:
    return "BK-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending payment"
    PAID = "paid", "Paid"
    COMPLETED = "completed", "Completed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"
    NO_SHOW = "no_show", "No-show"


# The only way a booking's status may move. Everything else raises.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    BookingStatus.PENDING: frozenset(
        {BookingStatus.PAID, BookingStatus.EXPIRED, BookingStatus.CANCELLED}
    ),
    BookingStatus.PAID: frozenset(
        {
            BookingStatus.COMPLETED,
            BookingStatus.CANCELLED,
            BookingStatus.REFUNDED,
            BookingStatus.NO_SHOW,
        }
    ),
    BookingStatus.COMPLETED: frozenset(),
    # A card payment that succeeds after its hold lapsed re-takes the seats if they are
    # still free (otherwise it is refunded automatically and the booking stays expired).
    BookingStatus.EXPIRED: frozenset({BookingStatus.PAID}),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.REFUNDED: frozenset(),
    BookingStatus.NO_SHOW: frozenset(),
}

# Statuses in which a booking occupies seats on its session.
SEAT_HOLDING_STATUSES = frozenset(
    {BookingStatus.PENDING, BookingStatus.PAID, BookingStatus.COMPLETED, BookingStatus.NO_SHOW}
)
# Statuses of a booking still ahead of its customer (with a session not yet started).
UPCOMING_STATUSES = frozenset({BookingStatus.PENDING, BookingStatus.PAID})
# Statuses that count towards the purchaser's `total_bookings`.
COUNTED_STATUSES = frozenset({BookingStatus.PAID, BookingStatus.COMPLETED, BookingStatus.NO_SHOW})


class TransitionError(ConflictError):
    code = "invalid_transition"


def check_transition(current: str, new: str) -> None:
    if new not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        current_label = BookingStatus(current).label.lower()
        new_label = BookingStatus(new).label.lower()
        raise TransitionError(f"A booking that is {current_label} cannot become {new_label}.")


class Booking(models.Model):
    """Seats bought by one purchaser on one session, for one or more attendees."""

    Status = BookingStatus

    reference = models.CharField(max_length=12, unique=True, default=new_reference, editable=False)
    purchaser = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    session = models.ForeignKey(
        "course_sessions.CourseSession", on_delete=models.PROTECT, related_name="bookings"
    )
    status = models.CharField(
        max_length=12, choices=BookingStatus.choices, default=BookingStatus.PENDING,
        editable=False,
    )
    seats = models.PositiveSmallIntegerField()
    unit_price = models.PositiveIntegerField(help_text="Per seat, minor units.")
    list_amount = models.PositiveIntegerField(
        default=0, help_text="Seats × unit price before any discount, minor units.")
    total_amount = models.PositiveIntegerField(
        help_text="What the customer is charged: the list price less the discounts "
                  "(BookingDiscount rows), minor units.")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    company_name = models.CharField(max_length=200, blank=True)
    # Booking on account (apps.payments.on_account): the company pays by invoice after the
    # booking is confirmed. `payment_due_date` set means "on account".
    company = models.ForeignKey(
        "companies.Company", on_delete=models.PROTECT, null=True, blank=True,
        related_name="bookings", editable=False)
    purchase_order = models.CharField(max_length=100, blank=True, editable=False,
                                      verbose_name="PO number")
    payment_due_date = models.DateField(
        null=True, blank=True, editable=False,
        help_text="Set for a booking on account: the invoice is due on this date.")
    # Often health data (access needs, allergies): encrypted at rest.
    special_requirements = EncryptedOptionalText()
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    submission_token = models.UUIDField(
        null=True, blank=True, unique=True, editable=False,
        help_text="Sent with the booking form; a resubmission finds the first booking.",
    )
    terms_document = models.ForeignKey(
        "legal.LegalDocument", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", editable=False,
        help_text="The terms version the customer accepted on the booking form.",
    )
    terms_accepted_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the customer accepted the terms and the cancellation policy "
                  "(empty for bookings staff made for a customer).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    calendar_sequence = models.PositiveIntegerField(
        default=0, editable=False,
        help_text="SEQUENCE of the calendar entries: raised by every change people are told "
                  "about (a move, a new date or venue, a cancellation).",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(seats__gte=1), name="booking_seats_gte_1"),
            models.CheckConstraint(
                condition=Q(total_amount__gte=0), name="booking_total_gte_0"
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="booking_status_idx"),
            models.Index(fields=["status", "hold_expires_at"], name="booking_hold_idx"),
            models.Index(fields=["-created_at"], name="booking_created_idx"),
            models.Index(fields=["status", "payment_due_date"], name="booking_on_account_idx"),
        ]

    def __str__(self):
        return self.reference

    def get_absolute_url(self):
        return reverse("bookings:detail", args=[self.reference])

    @property
    def on_account(self) -> bool:
        return self.payment_due_date is not None

    @property
    def holds_seats(self):
        return self.status in SEAT_HOLDING_STATUSES

    def can_become(self, new_status: str) -> bool:
        return new_status in ALLOWED_TRANSITIONS.get(self.status, frozenset())


class BookingDiscount(models.Model):
    """One discount taken off a booking's list price when it was made: a group price or a
    discount code (at most one code per booking), with the exact amount. Together with
    `list_amount` they explain `total_amount`. A code's use is given back when the booking
    ends unpaid (`use_released_at`), and counted again if it is paid after all."""

    Kind = DiscountSource

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="discounts")
    kind = models.CharField(max_length=10, choices=DiscountSource.choices)
    code = models.ForeignKey("pricing.DiscountCode", null=True, blank=True,
                             on_delete=models.PROTECT, related_name="booking_discounts")
    label = models.CharField(max_length=200)
    amount = models.PositiveIntegerField(help_text="Taken off, minor units.")
    use_released_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the code's use was given back (the booking ended unpaid).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["booking_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["booking"], condition=Q(kind="code"),
                                    name="booking_one_discount_code"),
        ]

    def __str__(self):
        return self.label


class ActiveAttendeeManager(models.Manager):
    """Attendees whose seat stands: every count, list, register, certificate and email
    reads these (`booking.attendees` included). A cancelled place keeps its row for the
    history; `Attendee.all_objects` reads those too (erasure, retention, data export)."""

    def get_queryset(self):
        return super().get_queryset().filter(cancelled_at__isnull=True)


class Attendee(models.Model):
    """One seat of a booking, named. Each attendee is (or becomes) a user and gets
    their own certificate. A place cancelled on its own (apps.refunds.changes.
    attendee_cancel) keeps its row with `cancelled_at` set: it no longer counts anywhere."""

    class Attendance(models.TextChoices):
        UNKNOWN = "unknown", "Not marked"
        ATTENDED = "attended", "Attended"
        NO_SHOW = "no_show", "No-show"

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="attendees")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attendances"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    attendance = models.CharField(
        max_length=10, choices=Attendance.choices, default=Attendance.UNKNOWN
    )
    cancelled_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When this one place was cancelled (the rest of the booking stands).")

    all_objects = models.Manager()
    objects = ActiveAttendeeManager()

    class Meta:
        ordering = ["id"]
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["booking", "user"], name="attendee_once_per_booking"),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` sent to the staff booking API (as its per-caller uuid5 token):
    the body it came with (a hash) and what it led to. Kept in the database for as long as
    the key means anything, so a different body is refused whenever the key is known.

    Holds no personal data: a replayed 201 is rendered from the booking as it is now, a
    replayed refusal from the stored error code and message. Erasure retires the key."""

    token = models.UUIDField(unique=True)
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    request_hash = models.CharField(max_length=64, blank=True,
                                    help_text="SHA-256 of the body; empty once retired.")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="idempotency_keys")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True, help_text="{code, message} of a refusal.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="bookings_idem_created_idx")]

    def __str__(self):
        return f"Idempotency key {self.token}"


class WaitingListEntry(models.Model):
    """Someone waiting for seats on a sold-out session. Served in `joined_at` order (then
    id); one entry per address and session (joining again updates it)."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offer sent"
        BOOKED = "booked", "Booked (offer claimed)"
        LAPSED = "lapsed", "Offer lapsed"
        LEFT = "left", "Left the list"
        REMOVED = "removed", "Removed by staff"

    session = models.ForeignKey("course_sessions.CourseSession", on_delete=models.CASCADE,
                                related_name="waiting_list")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    seats = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING,
                              editable=False)
    consent_at = models.DateTimeField(
        editable=False, help_text="When they agreed to be emailed about seats on this session.")
    joined_at = models.DateTimeField(
        editable=False, help_text="Their place in the queue (set again when they rejoin "
                                  "after leaving or after an offer lapsed).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["session", "joined_at", "id"]
        verbose_name = "waiting-list entry"
        verbose_name_plural = "waiting list"
        constraints = [
            models.UniqueConstraint(fields=["session", "email"],
                                    name="waitlist_once_per_session_email"),
            models.CheckConstraint(condition=Q(seats__gte=1), name="waitlist_seats_gte_1"),
        ]
        indexes = [models.Index(fields=["session", "status", "joined_at"],
                                name="waitlist_queue_idx")]

    def __str__(self):
        return f"{self.name} <{self.email}> waiting for {self.seats} on session {self.session_id}"


class WaitingListOffer(models.Model):
    """Seats reserved for one waiting-list entry until `expires_at`: while the offer is
    live its seats are counted in the session's `seats_taken`, so nobody else can take
    them; claiming turns them into a pending booking's seats, expiring gives them back."""

    class Status(models.TextChoices):
        LIVE = "live", "Waiting for a claim"
        CLAIMED = "claimed", "Claimed"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "Withdrawn"

    entry = models.ForeignKey(WaitingListEntry, on_delete=models.CASCADE, related_name="offers")
    session = models.ForeignKey("course_sessions.CourseSession", on_delete=models.CASCADE,
                                related_name="waitlist_offers")
    seats = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.LIVE,
                              editable=False)
    created_at = models.DateTimeField(editable=False)
    expires_at = models.DateTimeField(editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    booking = models.OneToOneField(Booking, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="waitlist_offer", editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["entry"], condition=Q(status="live"),
                                    name="waitlist_one_live_offer_per_entry"),
            models.CheckConstraint(condition=Q(seats__gte=1), name="waitlist_offer_seats_gte_1"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="waitlist_offer_live_idx"),
                   models.Index(fields=["created_at"], name="waitlist_offer_created_idx")]

    def __str__(self):
        return f"Offer of {self.seats} seat(s) to {self.entry.email}"
