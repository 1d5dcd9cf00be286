"""Check each user's total_bookings and total_spent against the ledger (the bookings they
purchased that count, their payments that succeeded minus the refunds that succeeded) and
fix the totals that drifted.

Every drift is printed (email, stored, expected). Each fix re-reads the ledger with the
user's row locked and writes with a conditional UPDATE, so a booking, payment or refund
committing meanwhile is neither lost nor counted twice; each fix is in the activity log.
--dry-run only reports. --user EMAIL checks one person.

Exit 0 when every total was right, 1 when drift was found (and fixed, unless --dry-run),
2 when it could not run (an unknown --user, the database unavailable).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.core.money import format_money
from apps.operations.totals import TotalsDrift, user_totals_drift, user_totals_fix
from apps.users.models import User, normalize_email


def _describe(drift: TotalsDrift) -> str:
    currency = settings.DEFAULT_CURRENCY
    parts = []
    if drift.stored_bookings != drift.expected_bookings:
        parts.append(f"total_bookings stored {drift.stored_bookings}, "
                     f"expected {drift.expected_bookings}")
    if drift.stored_spent != drift.expected_spent:
        parts.append(f"total_spent stored {format_money(drift.stored_spent, currency)}, "
                     f"expected {format_money(drift.expected_spent, currency)}")
    return f"{drift.email}: {'; '.join(parts)}"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="EMAIL", help="Check this one user only.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Report drift without fixing it.")

    def handle(self, *args, user=None, dry_run=False, **options):
        try:
            self._run(email=user, dry_run=dry_run)
        except DatabaseError as error:
            raise CommandError(f"Could not check user totals: {error}", returncode=2) from error

    def _run(self, *, email: str | None, dry_run: bool) -> None:
        user_ids = None
        if email is not None:
            pk = User.objects.filter(email__iexact=normalize_email(email)).values_list(
                "pk", flat=True).first()
            if pk is None:
                raise CommandError(f"No user has the email address {email!r}.", returncode=2)
            user_ids = [pk]
        checked = 1 if user_ids else User.objects.count()

        self.stdout.write(f"[1/2] comparing the totals of {checked} user(s) with the ledger…")
        candidates = user_totals_drift(user_ids=user_ids)

        verb = "reporting" if dry_run else "fixing"
        self.stdout.write(f"[2/2] {verb} {len(candidates)} drifted user(s)…")
        drifted = fixed = 0
        for index, candidate in enumerate(candidates, start=1):
            if dry_run:
                drift, outcome = candidate, "not fixed (dry run)"
            else:
                drift = user_totals_fix(user_id=candidate.user_id)
                outcome = "fixed"
            if drift is None:
                self.stdout.write(f"  {index}/{len(candidates)}  {candidate.email}: "
                                  "right by the time it was locked, nothing to fix")
                continue
            drifted += 1
            fixed += not dry_run
            self.stdout.write(f"  {index}/{len(candidates)}  {_describe(drift)} -> {outcome}")

        rows = [("users checked", checked, ""), ("drifted", drifted, ""),
                ("fixed", fixed, "  (dry run)" if dry_run else "")]
        width = max(len(label) for label, _, _ in rows)
        self.stdout.write("\nSummary")
        for label, value, note in rows:
            self.stdout.write(f"  {label:<{width}}  {value:>5}{note}")
        if drifted:
            done = "reported, not fixed (dry run)" if dry_run else "fixed"
            raise CommandError(
                f"{drifted} user(s) had totals that disagreed with the ledger: {done}.",
                returncode=1,
            )
