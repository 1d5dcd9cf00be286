from django.db import migrations

from apps.users.roles import refresh_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0005_user_users_email_idx"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    # Admins may see and remove staff's second factors (allauth MFA): its permissions now exist.
    operations = [migrations.RunPython(refresh_role_groups, migrations.RunPython.noop)]
