"""Recording attendance, the certificates layer's way: bookings marks who came and settles
each booking (completed or no-show); then every completed booking's certificates are
issued by a task after commit. Admin actions, the API and the demo data call this, never
apps.bookings.services.attendance_mark alone."""

from datetime import datetime

from apps.bookings.services import AttendanceResult, attendance_mark

from .tasks import issue_certificates_task


def attendance_record(*, attendee_ids: list[int], attendance: str, actor=None,
                      now: datetime | None = None) -> AttendanceResult:
    """Mark these attendees attended or no-show (see attendance_mark for the rules and
    the refusals), then queue certificate issuance for each completed booking."""
    result = attendance_mark(attendee_ids=attendee_ids, attendance=attendance, actor=actor,
                             now=now)
    for booking_id in result.completed:
        issue_certificates_task.delay_on_commit(booking_id)
    return result
