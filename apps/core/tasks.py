from celery import shared_task

from .emails import communication_send


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=8,
)
def send_communication_task(self, communication_id: int) -> bool:
    return communication_send(communication_id=communication_id)


@shared_task
def send_reminders_task() -> dict:
    from .reminders import send_all_reminders

    return send_all_reminders()


@shared_task
def send_hold_reminders_task() -> int:
    """Hold nudges run every minute (beat): a hold lasts 15 minutes and its nudge window is
    5, so the 15-minute reminder run alone would miss two holds in three."""
    from .reminders import hold_expiry_reminders

    return hold_expiry_reminders()


@shared_task
def retry_failed_emails_task() -> int:
    from .emails import communications_retry_failed

    return communications_retry_failed()


@shared_task
def refresh_dashboard_task() -> None:
    from .dashboard import dashboard_refresh

    dashboard_refresh()


@shared_task
def purge_expired_data_task() -> dict:
    """The retention policy, nightly (beat); records what each run removed."""
    from .retention import retention_purge

    return retention_purge()


@shared_task
def data_quality_task() -> int:
    """The data-quality checks, daily (beat): problems are logged and emailed to
    operations once a day. Returns how many problems were found."""
    from .quality import data_quality_report

    return data_quality_report()
