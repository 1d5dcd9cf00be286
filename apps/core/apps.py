from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from . import request_id  # noqa: F401  (connects the Celery signal handlers)

        # Here, not at the top: sites.py imports models, loadable only once apps are ready.
        from .sites import site_sync_after_migrate

        post_migrate.connect(site_sync_after_migrate, sender=self)
