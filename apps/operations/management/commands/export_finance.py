"""Write the finance export for a date range: invoices and credit notes (Xero's sales
invoice import layout), payments, refunds and disputes.

    manage.py export_finance --from 2026-11-01 --to 2026-11-30 --format xlsx --out nov.xlsx

--format csv writes a zip of one CSV per sheet. Both dates are included (local days).
Prints what it read and the totals per currency. Exit 0 when written; 2 with a sentence
when the input is wrong or the file cannot be written."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.operations.finance_export import FORMATS, export_bytes, finance_export, parse_range


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--format", dest="fmt", default="xlsx",
                            help=f"One of: {', '.join(FORMATS)} (default xlsx).")
        parser.add_argument("--out", required=True, help="The file to write.")

    def handle(self, *args, date_from, date_to, fmt, out, **options):
        if fmt not in FORMATS:
            raise CommandError(f"--format is csv or xlsx, not {fmt!r}.", returncode=2)
        try:
            start, end = parse_range(date_from=date_from, date_to=date_to)
        except DomainError as error:
            raise CommandError(error.message, returncode=2) from None
        path = Path(out)
        if not path.parent.is_dir():
            raise CommandError(f"The folder {path.parent} does not exist.", returncode=2)
        self.stdout.write(f"Reading {start} to {end}…")
        export = finance_export(date_from=start, date_to=end)
        for name, count in export.counts().items():
            self.stdout.write(f"  {name}: {count} row{'' if count == 1 else 's'}")
        self.stdout.write(f"Writing {fmt}…")
        try:
            path.write_bytes(export_bytes(export, fmt=fmt))
        except OSError as error:
            raise CommandError(f"Could not write {path}: {error.strerror}.",
                               returncode=2) from None
        for currency, totals in sorted(export.totals.items()):
            parts = [f"{key} {format_money(value, currency)}" for key, value in totals.items()]
            self.stdout.write(f"  {currency}: {', '.join(parts)}")
        self.stdout.write(self.style.SUCCESS(f"Wrote {path}."))
