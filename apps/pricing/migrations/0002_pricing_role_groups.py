from django.db import migrations

from apps.users.roles import refresh_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("pricing", "0001_initial"),
        ("bookings", "0010_booking_discounts"),
        ("users", "0008_consent_source_erasure"),
    ]

    operations = [
        # Admins manage discount codes and group prices, support sees them; the permissions
        # exist from now on.
        migrations.RunPython(refresh_role_groups, migrations.RunPython.noop),
    ]
