import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_certificate_number() -> str:
    return "CERT-" + secrets.token_hex(5).upper()


def new_verification_code() -> str:
    return secrets.token_urlsafe(16)


class Certificate(models.Model):
    """One per attendee of a completed booking, publicly verifiable by its code."""

    attendee = models.OneToOneField(
        "bookings.Attendee", on_delete=models.PROTECT, related_name="certificate"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certificates"
    )
    course = models.ForeignKey(
        "course_sessions.Course", on_delete=models.PROTECT, related_name="certificates"
    )
    session = models.ForeignKey(
        "course_sessions.CourseSession", on_delete=models.PROTECT, related_name="certificates"
    )
    number = models.CharField(max_length=20, unique=True, default=new_certificate_number)
    verification_code = models.CharField(
        max_length=40, unique=True, default=new_verification_code, editable=False
    )
    holder_name = models.CharField(max_length=200)
    issued_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_on"]
        indexes = [models.Index(fields=["expires_on"], name="certificate_expiry_idx")]

    def __str__(self):
        return self.number

    def validity(self, today=None) -> str:
        today = today or timezone.localdate()
        if self.revoked_at:
            return "revoked"
        if self.expires_on and self.expires_on < today:
            return "expired"
        return "valid"
