from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def refresh_role_groups(apps, schema_editor):
    # Support sees invoices and credit notes (view only); the permissions exist from now on.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    # Migrations load the role table through the app registry they are given.
    from apps.users.roles import ensure_role_groups

    ensure_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0001_initial"),
        ("users", "0008_consent_source_erasure"),
    ]

    operations = [migrations.RunPython(refresh_role_groups, migrations.RunPython.noop)]
