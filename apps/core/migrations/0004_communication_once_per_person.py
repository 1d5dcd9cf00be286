from django.conf import settings
from django.db import migrations, models


def mark_earlier_duplicates(apps, schema_editor):
    """Rows the old recipient-only rule let through (the same reminder to one person at a
    corrected address) keep their history; all but the first get a distinct key so the
    new constraint can be created."""
    Communication = apps.get_model("core", "Communication")
    groups = (Communication.objects.exclude(dedupe_key="").filter(user__isnull=False)
              .values("kind", "user_id", "dedupe_key")
              .annotate(rows=models.Count("pk"), first=models.Min("pk")).filter(rows__gt=1))
    for group in groups.iterator():
        later = Communication.objects.filter(
            kind=group["kind"], user_id=group["user_id"], dedupe_key=group["dedupe_key"]
        ).exclude(pk=group["first"])
        for pk in later.values_list("pk", flat=True):
            Communication.objects.filter(pk=pk).update(
                dedupe_key=f"{group['dedupe_key'][:100]}#duplicate-{pk}")


class Migration(migrations.Migration):

    dependencies = [
        ("bookings", "0002_initial"),
        ("core", "0003_communication_attachments_help"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(mark_earlier_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="communication",
            constraint=models.UniqueConstraint(
                condition=models.Q(models.Q(("dedupe_key", ""), _negated=True),
                                   ("user__isnull", False)),
                fields=("kind", "user", "dedupe_key"),
                name="communication_once_per_kind_user",
            ),
        ),
    ]
