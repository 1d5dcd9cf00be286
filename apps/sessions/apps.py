from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "apps.sessions"
    label = "course_sessions"
    verbose_name = "Course sessions"
