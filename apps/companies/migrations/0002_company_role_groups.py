from django.db import migrations

from apps.users.roles import refresh_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0001_initial"),
        ("users", "0008_consent_source_erasure"),
    ]

    operations = [
        # Support manages company accounts and decides link requests; admins get every
        # permission of the app. The permissions exist from now on.
        migrations.RunPython(refresh_role_groups, migrations.RunPython.noop),
    ]
