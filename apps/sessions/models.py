from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from apps.core.money import DEFAULT_CURRENCY


class Course(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    what_to_bring = models.TextField(blank=True)
    duration_hours = models.DecimalField(max_digits=5, decimal_places=1, default=6)
    price = models.PositiveIntegerField(help_text="Default price per seat, minor units.")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    validity_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="How long its certificate is valid; empty: no expiry."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title


class Location(models.Model):
    name = models.CharField(max_length=200, unique=True)
    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postcode = models.CharField(max_length=20)
    directions = models.TextField(blank=True)

    class Meta:
        ordering = ["city", "name"]

    def __str__(self):
        return f"{self.name}, {self.city}"

    @property
    def address(self):
        parts = [self.address_line1, self.address_line2, self.city, self.postcode]
        return ", ".join(part for part in parts if part)


class CourseSessionQuerySet(models.QuerySet):
    def upcoming(self, now=None):
        return self.filter(
            starts_at__gt=now or timezone.now(), status=CourseSession.Status.SCHEDULED
        )


class CourseSession(models.Model):
    """One scheduled run of a course. `seats_taken` is a counter changed only by
    conditional UPDATEs in bookings.services; the database refuses it above capacity."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CANCELLED = "cancelled", "Cancelled"

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions")
    trainer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sessions_taught",
        limit_choices_to={"role": "instructor"},
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="sessions")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    capacity = models.PositiveIntegerField()
    seats_taken = models.PositiveIntegerField(default=0, editable=False)
    price = models.PositiveIntegerField(help_text="Per seat, minor units.")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    notes = models.TextField(blank=True, help_text="Internal notes for staff and the trainer.")

    objects = CourseSessionQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gte=0), name="session_capacity_gte_0"),
            models.CheckConstraint(
                condition=Q(seats_taken__gte=0) & Q(seats_taken__lte=F("capacity")),
                name="session_seats_within_capacity",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="session_price_gte_0"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "starts_at"], name="session_status_start_idx"),
        ]

    def __str__(self):
        """"First Aid at Work — Tue 8 Dec 09:30 — Leeds Training Centre" (with the year when
        not this one): two venues' sessions of a course at the same time read differently
        everywhere. Lists that show many load course and venue with the session."""
        starts = timezone.localtime(self.starts_at)
        year = "" if starts.year == timezone.localdate().year else f" {starts.year}"
        return f"{self.course} — {starts:%a %-d %b}{year} {starts:%H:%M} — {self.location.name}"

    def get_absolute_url(self):
        return reverse("sessions:detail", args=[self.pk])

    @property
    def seats_left(self):
        return max(self.capacity - self.seats_taken, 0)

    @property
    def is_sold_out(self):
        return self.seats_left == 0

    def has_started(self, now=None):
        return self.starts_at <= (now or timezone.now())

    def is_bookable(self, now=None):
        return (
            self.status == self.Status.SCHEDULED
            and not self.has_started(now)
            and not self.is_sold_out
        )
