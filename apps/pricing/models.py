"""Discount codes and group prices: what a booking may take off its list price.

The booking itself (apps.bookings) records what was applied (`BookingDiscount`); this app
only knows the rules and counts a code's uses."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from apps.core.money import DEFAULT_CURRENCY


class DiscountKind(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage off"
    FIXED = "fixed", "Fixed amount off"


class DiscountSource(models.TextChoices):
    """Where a discount on a booking came from (apps.bookings.BookingDiscount.kind)."""

    GROUP = "group", "Group price"
    CODE = "code", "Discount code"


class DiscountCode(models.Model):
    """A code a customer types on the booking form. Unique whatever its case ("SPRING10"
    and "spring10" are one code). Scope: every course, one course, or one session.
    `uses` counts the bookings that hold the code now; a new booking takes a use with a
    conditional UPDATE (apps.pricing.services), so new bookings never pass `max_uses`. The
    one exception is a card payment that arrives after its hold lapsed (and gave the use
    back): the customer paid the discounted price, so the use is taken again regardless
    and logged (`discount_code.retaken`, `over_limit`)."""

    Kind = DiscountKind

    code = models.CharField(max_length=40, help_text="What the customer types (any case).")
    description = models.CharField(max_length=200, blank=True,
                                   help_text="For staff: what the code is for.")
    kind = models.CharField(max_length=10, choices=DiscountKind.choices,
                            default=DiscountKind.PERCENTAGE)
    percent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Whole percent off (1-100), for a percentage code.")
    amount = models.PositiveIntegerField(
        null=True, blank=True, help_text="Off the whole booking, minor units, for a fixed "
                                         "amount code.")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    course = models.ForeignKey("course_sessions.Course", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="discount_codes",
                               help_text="Only this course (empty: every course).")
    session = models.ForeignKey("course_sessions.CourseSession", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="discount_codes",
                                help_text="Only this session (empty: any session).")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True,
                                           help_text="Empty: no limit.")
    uses = models.PositiveIntegerField(default=0, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("code"), name="discount_code_unique_ci"),
            models.CheckConstraint(
                condition=(Q(kind="percentage", percent__gte=1, percent__lte=100,
                             amount__isnull=True)
                           | Q(kind="fixed", amount__gte=1, percent__isnull=True)),
                name="discount_code_kind_value"),
        ]

    def __str__(self):
        return self.code

    @property
    def is_percentage(self) -> bool:
        return self.kind == DiscountKind.PERCENTAGE


class GroupDiscount(models.Model):
    """"From N seats, P% off": for one course or every course. When several rules fit a
    booking, the one with the highest percentage applies (never two)."""

    min_seats = models.PositiveSmallIntegerField(help_text="Applies from this many seats.")
    percent = models.PositiveSmallIntegerField(help_text="Whole percent off (1-100).")
    course = models.ForeignKey("course_sessions.Course", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="group_discounts",
                               help_text="Only this course (empty: every course).")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course_id", "min_seats"]
        verbose_name = "group price"
        constraints = [
            models.CheckConstraint(condition=Q(min_seats__gte=2), name="group_min_seats_gte_2"),
            models.CheckConstraint(condition=Q(percent__gte=1, percent__lte=100),
                                   name="group_percent_1_100"),
        ]

    def __str__(self):
        where = self.course.title if self.course_id else "every course"
        return f"{self.percent}% off from {self.min_seats} seats ({where})"
