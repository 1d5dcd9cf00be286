from django.db import migrations
from django.utils import timezone

from apps.users.roles import refresh_role_groups

TERMS = """These terms apply to every booking made on this site.

Booking: a booking is confirmed once it is paid. Seats are held for a short time while you pay; if the payment does not arrive in time, the seats are released.

Cancelling: you can cancel a booking in your portal ("My bookings"). What is refunded depends on how long before the course you cancel; the cancellation policy, with the dates for your course, is shown on the course page, the booking form and your booking.

Attendance: each attendee receives their own certificate once they have attended the whole course.

Changes: if we have to cancel a course, every booking for it is refunded in full.

Staff edit this text in the back office (Terms, privacy and policies): a change is published as a new version."""

PRIVACY = """We keep the personal data you give us (names, email addresses, phone numbers, special requirements) to run your booking, issue certificates and remind you when a certificate is due for renewal.

Payments are processed by Stripe; we never see your card number.

You can download everything we hold about you, or erase your account, in your portal ("My bookings", then "Profile").

Staff edit this text in the back office (Terms, privacy and policies): a change is published as a new version."""


def first_versions(apps, schema_editor):
    document = apps.get_model("legal", "LegalDocument")
    now = timezone.now()
    for kind, body in (("terms", TERMS), ("privacy", PRIVACY)):
        if not document.objects.filter(kind=kind).exists():
            document.objects.create(kind=kind, version=1, body=body, published_at=now)


class Migration(migrations.Migration):
    dependencies = [
        ("legal", "0001_legal_document"),
        ("users", "0005_user_users_email_idx"),
    ]

    operations = [
        migrations.RunPython(first_versions, migrations.RunPython.noop),
        # Support may read the documents; admins manage them (their permissions now exist).
        migrations.RunPython(refresh_role_groups, migrations.RunPython.noop),
    ]
