from django.db import migrations

from apps.users.roles import refresh_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0003_user_notes"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    # Admins may see and clear login lockouts (django-axes): its permissions now exist.
    operations = [migrations.RunPython(refresh_role_groups, migrations.RunPython.noop)]
