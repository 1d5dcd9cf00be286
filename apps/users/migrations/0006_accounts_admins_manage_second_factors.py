from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def refresh_role_groups(apps, schema_editor):
    # Admins may see and remove staff's second factors (allauth MFA): its permissions now exist.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    from apps.users.roles import ensure_role_groups

    ensure_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0005_user_users_email_idx"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(refresh_role_groups, migrations.RunPython.noop)]
