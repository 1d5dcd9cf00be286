from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_role_groups(apps, schema_editor):
    # Permissions are normally created after all migrations: make sure they exist now.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    from apps.users.roles import ensure_role_groups

    ensure_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("course_sessions", "0002_initial"),
        ("bookings", "0002_initial"),
        ("payments", "0002_initial"),
        ("refunds", "0003_refund_submitted_at"),
        ("certificates", "0003_initial"),
        ("core", "0003_communication_attachments_help"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
