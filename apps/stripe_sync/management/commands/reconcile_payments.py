"""Compare Stripe's PaymentIntents and refunds with our payments and refunds.

Reports every difference with both values: payments whose status differs, succeeded
intents we have no payment for, refunds we do not know, amounts or currencies that
differ. With --fix, repairs them through the same services the webhooks use (a missed
webhook is applied exactly as if it had arrived) and says what it changed. Safe to run
twice and while webhooks arrive. Exit 0: no differences; 1: differences found (fixed or
not); 2: bad arguments or Stripe unreachable.
"""

import json
from datetime import UTC, datetime, timedelta

import stripe
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.stripe_sync.reconcile import reconcile


def _date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"--since must be a date like 2026-11-01, not {value!r}.",
                           returncode=2) from None


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--since", help="YYYY-MM-DD (default: 30 days ago)")
        parser.add_argument("--fix", action="store_true", help="repair what differs")
        parser.add_argument("--dry-run", action="store_true",
                            help="report only, change nothing (the default without --fix)")
        parser.add_argument("--page-size", type=int, default=100)
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        since = _date(options["since"]) if options["since"] else \
            timezone.now() - timedelta(days=30)
        if options["fix"] and options["dry_run"]:
            raise CommandError("--fix and --dry-run contradict each other.", returncode=2)
        if not 1 <= options["page_size"] <= 100:
            raise CommandError("--page-size must be between 1 and 100.", returncode=2)
        fix = options["fix"]

        def progress(kind, count):
            if count % 50 == 0:
                self.stderr.write(f"  … {count} {kind} checked")

        self.stderr.write(f"Reconciling Stripe since {since:%Y-%m-%d}"
                          f"{' and fixing' if fix else ' (dry run: nothing changes)'}")
        try:
            report = reconcile(since=since, fix=fix, page_size=options["page_size"],
                               progress=progress)
        except (stripe.StripeError, OSError) as error:
            raise CommandError(f"Could not reach Stripe: {error}", returncode=2) from error

        if options["json"]:
            self.stdout.write(json.dumps({
                "intents_checked": report.intents_checked,
                "refunds_checked": report.refunds_checked,
                "differences": [d.as_dict() for d in report.differences],
            }, indent=2))
        else:
            self._table(report, fix)
        if report.differences:
            raise CommandError(f"{len(report.differences)} difference(s) found"
                               f"{', fixed where shown' if fix else ''}.", returncode=1)

    def _table(self, report, fix):
        self.stdout.write(f"Checked {report.intents_checked} payment intents and "
                          f"{report.refunds_checked} refunds.")
        if not report.differences:
            self.stdout.write(self.style.SUCCESS("No differences."))
            return
        rows = [("what", "stripe id", "ours", "stripe", "fixed")] + [
            (d.kind, d.stripe_id, d.ours, d.stripe, "yes" if d.fixed else ("no" if fix else "-"))
            for d in report.differences]
        widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
        for index, row in enumerate(rows):
            self.stdout.write("  ".join(str(cell).ljust(width)
                                        for cell, width in zip(row, widths, strict=True)))
            if index == 0:
                self.stdout.write("  ".join("-" * width for width in widths))
