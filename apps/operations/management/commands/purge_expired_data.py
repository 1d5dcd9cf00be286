"""Enforce data retention: delete activity logs older than 2 years (7 for those about
money) and certificates that expired more than 3 years ago; after 7 years, blank the
personal part of payments and their bookings (card brand and last four digits, failure
messages, company names, special requirements, attendee names and emails) and of every
copy of it (the booking's sent emails, Stripe event payloads, payment event notes),
keeping amounts, currencies, dates and statuses. Beat runs it nightly.

--dry-run counts what would change and changes nothing. Safe to run again: a second run
finds nothing more to do. The rules live in apps/operations/retention.py.
Exit 0 when it ran, 2 when it could not run.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from apps.operations import retention


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="Count what would be purged; change nothing.")

    def handle(self, *args, dry_run=False, **options):
        if dry_run:
            self.stdout.write("Dry run: counting only, nothing will be changed.")
        try:
            totals = retention.retention_purge(now=timezone.now(), dry_run=dry_run,
                                               progress=self._progress)
        except DatabaseError as error:
            raise CommandError(f"Could not purge: {error}", returncode=2) from error
        width = max(len(label) for label in totals)
        self.stdout.write("\nSummary (dry run: nothing was changed)" if dry_run else "\nSummary")
        for label, count in totals.items():
            self.stdout.write(f"  {label:<{width}}  {count:>6}")

    def _progress(self, index: int, total: int, title: str, counts: dict | None) -> None:
        if counts is None:
            self.stdout.write(f"[{index}/{total}] {title}…")
            return
        for label, count in counts.items():
            self.stdout.write(f"  {label}: {count}")
