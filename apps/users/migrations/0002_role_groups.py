from django.db import migrations

from apps.users.roles import refresh_role_groups


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

    operations = [migrations.RunPython(refresh_role_groups, migrations.RunPython.noop)]
