from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "apps.sessions"
    label = "course_sessions"
    verbose_name = "Course sessions"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from .catalogue_cache import _on_change
        from .models import Course, CourseSession, Location

        for model in (Course, CourseSession, Location):
            post_save.connect(_on_change, sender=model, dispatch_uid=f"catalogue-{model.__name__}")
            post_delete.connect(_on_change, sender=model,
                                dispatch_uid=f"catalogue-del-{model.__name__}")
