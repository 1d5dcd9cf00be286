import os

from celery import Celery
from celery.contrib.django.task import DjangoTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class AlertingTask(DjangoTask):
    """Every task's base: a task that fails for good (after its last retry, or at once when
    it does not retry) is logged, kept in the activity log and emailed to operations, once.
    Failures that will be retried go through `on_retry`, not here. (DjangoTask, Celery's
    default under Django, gives `delay_on_commit`.)"""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from apps.operations.task_failures import task_gave_up  # needs the apps loaded

        task_gave_up(task_name=self.name, task_id=task_id, args=args, kwargs=kwargs,
                     error=exc, retries=self.request.retries)


app = Celery("portal", task_cls=AlertingTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
