from django.db import migrations

from apps.users.roles import refresh_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0008_attendee_cancelled_at"),
        ("users", "0008_consent_source_erasure"),
    ]

    operations = [
        # Support manages waiting lists (view, change); the permissions exist from now on.
        migrations.RunPython(refresh_role_groups, migrations.RunPython.noop),
    ]
