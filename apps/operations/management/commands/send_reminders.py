"""Send the reminder emails that are due: session reminders, certificate expiry reminders,
hold-expiry nudges. Celery beat runs the same every 15 minutes; running it again, late or
at the same time sends nothing twice (the Communication log's unique key decides).
Exit 0 when it ran, 2 when it could not."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.operations.reminders import REMINDERS


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        totals = {}
        for index, (name, send) in enumerate(REMINDERS.items(), start=1):
            self.stdout.write(f"[{index}/{len(REMINDERS)}] {name}…")
            try:
                totals[name] = send()
            except DatabaseError as error:
                raise CommandError(f"Could not send {name}: {error}", returncode=2) from error
        width = max(len(name) for name in totals)
        self.stdout.write("\nSummary")
        for name, count in totals.items():
            self.stdout.write(f"  {name:<{width}}  {count:>5} sent")
        self.stdout.write(f"  {'total':<{width}}  {sum(totals.values()):>5} sent")
