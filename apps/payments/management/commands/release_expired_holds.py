"""Expire pending bookings whose seat hold has run out, giving their seats back.

Celery beat runs the same service every minute; this command is for cron, or by hand.
Exit code 0 when it ran (whether or not anything had expired), 2 when it could not run.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from apps.bookings.models import Booking
from apps.payments.holds import hold_expire


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        now = timezone.now()
        try:
            candidates = list(
                Booking.objects.filter(status=Booking.Status.PENDING, hold_expires_at__lte=now)
                .values_list("pk", "reference", "seats")
            )
        except DatabaseError as error:
            raise CommandError(f"Could not read bookings: {error}", returncode=2) from error
        expired = seats = 0
        total = len(candidates)
        for index, (pk, reference, booking_seats) in enumerate(candidates, start=1):
            if hold_expire(booking_id=pk, now=now):
                expired += 1
                seats += booking_seats
                if options["verbosity"] > 1:
                    self.stdout.write(f"  [{index}/{total}] {reference}: expired")
        self.stdout.write(
            f"Expired {expired} of {total} lapsed hold(s); released {seats} seat(s)."
        )
