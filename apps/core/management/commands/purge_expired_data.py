"""Enforce data retention: delete activity logs older than 2 years and certificates that
expired more than 3 years ago; after 7 years, blank the personal part of payments and
their bookings (card brand and last four digits, failure messages, company names, special
requirements, attendee names and emails), keeping amounts, currencies, dates and statuses.

--dry-run counts what would change and changes nothing. Safe to run again: a second run
finds nothing more to do. The rules live in apps/core/retention.py.
Exit 0 when it ran, 2 when it could not run.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from apps.core import retention
from apps.core.audit import log_action


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="Count what would be purged; change nothing.")

    def handle(self, *args, dry_run=False, **options):
        now = timezone.now()
        if dry_run:
            self.stdout.write("Dry run: counting only, nothing will be changed.")
        deleted, anonymised = ("to delete", "to anonymise") if dry_run else (
            "deleted", "anonymised")
        steps = [
            (f"activity logs created before {_when(retention.activity_log_cutoff(now))}",
             lambda: {f"activity logs {deleted}":
                      retention.purge_activity_logs(now=now, dry_run=dry_run)}),
            (f"certificates that expired before {retention.certificate_cutoff(now)}",
             lambda: {f"certificates {deleted}":
                      retention.purge_expired_certificates(now=now, dry_run=dry_run)}),
            (f"payment data older than {_when(retention.payment_data_cutoff(now))}",
             lambda: {f"{kind} {anonymised}": count for kind, count in
                      retention.anonymise_old_payment_data(now=now, dry_run=dry_run).items()}),
        ]
        totals: dict[str, int] = {}
        for index, (title, run) in enumerate(steps, start=1):
            self.stdout.write(f"[{index}/{len(steps)}] {title}…")
            try:
                counts = run()
            except DatabaseError as error:
                raise CommandError(f"Could not purge {title}: {error}", returncode=2) from error
            for label, count in counts.items():
                self.stdout.write(f"  {label}: {count}")
            totals.update(counts)

        if not dry_run and any(totals.values()):
            try:
                log_action("data.retention_purged", data={
                    label.replace(" ", "_"): count for label, count in totals.items()})
            except DatabaseError as error:
                raise CommandError(f"Purged, but could not log the run: {error}",
                                   returncode=2) from error
        width = max(len(label) for label in totals)
        self.stdout.write("\nSummary (dry run: nothing was changed)" if dry_run else "\nSummary")
        for label, count in totals.items():
            self.stdout.write(f"  {label:<{width}}  {count:>6}")


def _when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"
