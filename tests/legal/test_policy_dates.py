"""The cancellation policy with a session's concrete local dates (issue 17 item 1).

Tiers are calendar days in the provider's time zone (settings.TIME_ZONE): "14 days"
means the same local wall-clock time 14 calendar days before the start."""

from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from apps.legal.policy import booking_cancellation_policy_text, refund_deadlines

LONDON = ZoneInfo("Europe/London")


def session_at(local: datetime):
    return SimpleNamespace(starts_at=local.replace(tzinfo=LONDON))


def test_the_default_policy_reads_with_this_sessions_dates(settings):
    settings.CANCELLATION_POLICY = [(14, 100), (7, 50), (0, 0)]
    booking = SimpleNamespace(session=session_at(datetime(2026, 12, 30, 9, 0)))
    text = booking_cancellation_policy_text(
        booking=booking, now=datetime(2026, 11, 30, 12, 0, tzinfo=LONDON))
    assert text == ("Full refund if you cancel until Wed 16 Dec 09:00, 50 % until "
                    "Wed 23 Dec 09:00, no refund after.")


def test_deadlines_keep_the_local_wall_clock_time_across_a_clock_change(settings):
    # Summer time ends on 25 Oct 2026: a course at 09:00 on 1 Nov has its 14-day deadline
    # at 09:00 (summer time) on 18 Oct, 337 hours before, not 336.
    settings.CANCELLATION_POLICY = [(14, 100), (7, 50), (0, 0)]
    starts = datetime(2026, 11, 1, 9, 0, tzinfo=LONDON)
    deadlines = refund_deadlines(starts_at=starts, now=datetime(2026, 9, 1, tzinfo=LONDON))
    assert [(d.percent, d.until.astimezone(LONDON).strftime("%d %b %H:%M %Z"))
            for d in deadlines] == [(100, "18 Oct 09:00 BST"), (50, "25 Oct 09:00 GMT")]
    assert (starts.astimezone(UTC) - deadlines[0].until).total_seconds() == 337 * 3600


def test_passed_tiers_are_left_out_and_a_late_booking_is_told_plainly(settings):
    settings.CANCELLATION_POLICY = [(14, 100), (7, 50), (0, 0)]
    session = session_at(datetime(2026, 12, 30, 9, 0))
    ten_days_before = datetime(2026, 12, 20, 9, 0, tzinfo=LONDON)
    assert booking_cancellation_policy_text(
        booking=SimpleNamespace(session=session), now=ten_days_before
    ) == "50 % refund if you cancel until Wed 23 Dec 09:00, no refund after."
    assert booking_cancellation_policy_text(
        booking=SimpleNamespace(session=session), now=datetime(2026, 12, 28, tzinfo=LONDON)
    ) == "No refund if you cancel: the course starts in less than 7 days."


@pytest.mark.parametrize(("policy", "expected"), [
    ([(0, 100)], "Full refund if you cancel until the course starts (Wed 30 Dec 09:00)."),
    ([(2, 100), (0, 25)], "Full refund if you cancel until Mon 28 Dec 09:00, 25 % until the "
                          "course starts (Wed 30 Dec 09:00)."),
    ([(0, 0)], "No refund if you cancel."),
])
def test_other_policies_from_the_setting(settings, policy, expected):
    settings.CANCELLATION_POLICY = policy
    booking = SimpleNamespace(session=session_at(datetime(2026, 12, 30, 9, 0)))
    assert booking_cancellation_policy_text(
        booking=booking, now=datetime(2026, 11, 30, tzinfo=LONDON)) == expected


def test_a_deadline_in_another_year_shows_the_year(settings):
    settings.CANCELLATION_POLICY = [(14, 100), (0, 0)]
    booking = SimpleNamespace(session=session_at(datetime(2027, 1, 5, 9, 0)))
    assert booking_cancellation_policy_text(
        booking=booking, now=datetime(2026, 11, 30, tzinfo=LONDON)
    ) == "Full refund if you cancel until Tue 22 Dec 09:00, no refund after."
    booking = SimpleNamespace(session=session_at(datetime(2027, 1, 20, 9, 0)))
    assert booking_cancellation_policy_text(
        booking=booking, now=datetime(2026, 11, 30, tzinfo=LONDON)
    ) == "Full refund if you cancel until Wed 6 Jan 2027 09:00, no refund after."
