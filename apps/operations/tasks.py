"""Beat tasks for the work that spans the domain: reminders, the dashboard's figures, the
retention purge and the data-quality checks (schedule in config/settings.py)."""

from celery import shared_task

from apps.payments.on_account import on_account_daily

from .dashboard import dashboard_refresh
from .quality import data_quality_report
from .reminders import hold_expiry_reminders, send_all_reminders
from .retention import retention_purge


@shared_task
def send_reminders_task() -> dict:
    return send_all_reminders()


@shared_task
def send_hold_reminders_task() -> int:
    """Hold nudges run every minute (beat): a hold lasts 15 minutes and its nudge window is
    5, so the 15-minute reminder run alone would miss two holds in three."""
    return hold_expiry_reminders()


@shared_task
def refresh_dashboard_task() -> None:
    dashboard_refresh()


@shared_task
def purge_expired_data_task() -> dict:
    """The retention policy, nightly (beat); records what each run removed."""
    return retention_purge()


@shared_task
def data_quality_task() -> int:
    """The data-quality checks, daily (beat): problems are logged and emailed to
    operations once a day. Returns how many problems were found."""
    return data_quality_report()


@shared_task
def on_account_daily_task() -> dict:
    """Bookings on account, daily (beat): payment reminders before and after the due date,
    then unpaid bookings released ON_ACCOUNT_UNPAID_RELEASE_DAYS before their session."""
    return on_account_daily()
