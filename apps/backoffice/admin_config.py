from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    """django.contrib.admin with the back office's site (apps/backoffice/site.py) as
    `admin.site`: listed in INSTALLED_APPS in place of "django.contrib.admin"."""

    default_site = "apps.backoffice.site.BackOfficeSite"
