"""Look for data that breaks the portal's rules or needs a person: duplicate users,
orphaned bookings, payments that succeeded on bookings that are not paid, user totals
that disagree with the ledger, and certificates expiring within 30 days with no expiry
reminder sent. Read-only: it changes nothing.

Prints a table per check and a summary; with --json, prints only one JSON object
{check_name: [rows…]} on stdout. Amounts are in minor units (pence). The rules, and what
is deliberately not reported, are in apps/operations/quality.py.
Exit 0 when every check is clean, 1 when any problem was found, 2 when it could not run.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError
from django.utils import timezone

from apps.operations.quality import CHECKS


def _cell(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def format_table(rows: list[dict], *, indent: str = "  ") -> list[str]:
    columns = list(rows[0])
    cells = [[_cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells))
              for i, column in enumerate(columns)]

    def line(values):
        return indent + "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return [line(columns), line(["-" * w for w in widths]), *(line(values) for values in cells)]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="Print one JSON object {check_name: [rows…]} and nothing else.")

    def handle(self, *args, as_json: bool = False, **options):
        now = timezone.now()
        results: dict[str, list[dict]] = {}
        for index, (name, check) in enumerate(CHECKS.items(), start=1):
            if not as_json:
                self.stdout.write(f"[{index}/{len(CHECKS)}] checking {check.title}…")
            try:
                results[name] = rows = check.run(now=now)
            except DatabaseError as error:
                raise CommandError(f"Could not check {check.title}: {error}",
                                   returncode=2) from error
            if not as_json:
                self._print_rows(rows)

        problems = sum(len(rows) for rows in results.values())
        if as_json:
            self.stdout.write(json.dumps(results, cls=DjangoJSONEncoder, indent=2))
        else:
            self._print_summary(results)
        if problems:
            failing = sum(1 for rows in results.values() if rows)
            raise CommandError(f"Found {problems} problem(s) in {failing} of {len(CHECKS)} "
                               "check(s).", returncode=1)

    def _print_rows(self, rows: list[dict]) -> None:
        if not rows:
            self.stdout.write("  clean")
            return
        self.stdout.write(f"  {len(rows)} found:")
        for text in format_table(rows, indent="    "):
            self.stdout.write(text)

    def _print_summary(self, results: dict[str, list[dict]]) -> None:
        titles = {name: CHECKS[name].title for name in results}
        width = max(len(title) for title in [*titles.values(), "total"])
        self.stdout.write("\nSummary")
        for name, rows in results.items():
            self.stdout.write(f"  {titles[name]:<{width}}  {len(rows):>5}")
        total = sum(len(rows) for rows in results.values())
        self.stdout.write(f"  {'total':<{width}}  {total:>5}")
