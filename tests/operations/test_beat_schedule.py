"""Beat runs every periodic job the README names, on the project's (London) clock, and
the nightly retention purge reports what it removed (issue #24 item 9, issue #21 item
12's scheduling part)."""

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.utils import timezone

from apps.core.models import Communication
from apps.operations import tasks
from apps.users.models import ActivityLog
from config.celery import app
from tests.factories import UserFactory

LONDON = ZoneInfo("Europe/London")

# The periodic jobs the README names, by the task beat runs for each.
README_PERIODIC_JOBS = {
    "release_expired_holds": "apps.payments.holds.release_expired_holds_task",
    "send_reminders": "apps.operations.tasks.send_reminders_task",
    "hold-expiry nudges": "apps.operations.tasks.send_hold_reminders_task",
    "reconcile_payments": "apps.stripe_sync.tasks.reconcile_payments_task",
    "purge_expired_data": "apps.operations.tasks.purge_expired_data_task",
    "data_quality": "apps.operations.tasks.data_quality_task",
}


def test_beat_runs_every_periodic_job_the_readme_names():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    missing = {job for job, task in README_PERIODIC_JOBS.items() if task not in scheduled}
    assert not missing
    for task in scheduled:  # and every scheduled task exists
        module, _, name = task.rpartition(".")
        assert callable(getattr(__import__(module, fromlist=[name]), name))


def test_beat_runs_in_the_projects_time_zone():
    assert settings.TIME_ZONE == "Europe/London"
    assert str(app.timezone) == "Europe/London"


@pytest.mark.parametrize("day", [datetime(2026, 1, 15, tzinfo=UTC),
                                 datetime(2026, 7, 15, tzinfo=UTC)], ids=["GMT", "BST"])
def test_nightly_jobs_fire_at_their_london_wall_clock_time_in_winter_and_summer(day):
    nightly = {name: entry["schedule"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
               if isinstance(entry["schedule"], crontab)}
    assert nightly
    for name, schedule in nightly.items():
        schedule = crontab(minute=schedule._orig_minute, hour=schedule._orig_hour, app=app,
                           nowfun=lambda: day)
        next_run = day + schedule.remaining_estimate(day)
        local = next_run.astimezone(LONDON)
        assert local.hour in schedule.hour and local.minute in schedule.minute, name


@pytest.mark.django_db
def test_the_scheduled_purge_removes_expired_data_and_records_what_it_removed(caplog):
    old = ActivityLog.objects.create(action="booking.cancelled",
                                     created_at=timezone.now() - relativedelta(years=3))
    with caplog.at_level(logging.INFO, logger="apps.operations.retention"):
        counts = tasks.purge_expired_data_task()

    assert not ActivityLog.objects.filter(pk=old.pk).exists()
    assert counts["activity logs deleted"] == 1
    run = ActivityLog.objects.get(action="data.retention_purged")
    assert run.data["activity_logs_deleted"] == 1 and run.data["certificates_deleted"] == 0
    assert "activity_logs_deleted=1" in caplog.text

    tasks.purge_expired_data_task()  # a run that removes nothing is recorded too
    assert ActivityLog.objects.filter(action="data.retention_purged").count() == 2


@pytest.mark.django_db
def test_the_scheduled_data_quality_check_tells_operations_once_a_day():
    UserFactory(email="jo.bloggs@gmail.com")
    UserFactory(email="jobloggs+work@gmail.com")
    assert tasks.data_quality_task() >= 1
    assert tasks.data_quality_task() >= 1
    alert = Communication.objects.get(kind="staff_alert", recipient=settings.OPERATIONS_EMAIL)
    assert "duplicate users" in alert.body


@pytest.mark.django_db
def test_a_clean_data_quality_check_sends_nothing():
    assert tasks.data_quality_task() == 0
    assert not Communication.objects.filter(kind="staff_alert").exists()


def test_the_clock_of_this_test_is_not_a_coincidence():
    # winter and summer differ, so the parametrised test above checks the offset
    assert (datetime(2026, 7, 15, 3, tzinfo=LONDON).utcoffset()
            != datetime(2026, 1, 15, 3, tzinfo=LONDON).utcoffset())
    assert timedelta(0) == datetime(2026, 1, 15, 3, tzinfo=LONDON).utcoffset()
