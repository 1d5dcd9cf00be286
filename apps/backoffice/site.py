"""The back office's admin site: the index grouped by the day's work, not by Django app.

Technical models (API tokens, lockouts, sign-in accounts, second factors, Stripe events…)
are hidden from everyone but admins, who find them under "Technical"."""

from django.contrib import admin

from apps.users.roles import is_admin

# (section, [app_label.model_name, …]) in the order staff meet them during a day.
SECTIONS = [
    ("Bookings", ["bookings.booking", "bookings.attendee", "bookings.waitinglistentry",
                  "bookings.waitinglistoffer"]),
    ("Sessions", ["course_sessions.coursesession", "course_sessions.course",
                  "course_sessions.location"]),
    ("Customers and companies", ["users.user", "users.usernote"]),
    ("Money", ["invoicing.invoice", "invoicing.creditnote", "payments.payment",
               "refunds.refund", "payments.dispute",
               "payments.paymentevent", "payments.reconciliationrun"]),
    ("Certificates", ["certificates.certificate"]),
    ("Communications", ["core.communication"]),
    ("Settings", ["legal.legaldocument", "auth.group", "users.activitylog"]),
]
TECHNICAL = "Technical"


class BackOfficeSite(admin.AdminSite):
    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps  # an app's own page lists that app's models, as Django does
        models = {f"{app['app_label']}.{model['object_name'].lower()}": model
                  for app in apps for model in app["models"]}
        grouped = []
        for section, keys in SECTIONS:
            found = [models.pop(key) for key in keys if key in models]
            if found:
                grouped.append(self._section(section, found))
        if models and is_admin(request.user):
            grouped.append(self._section(TECHNICAL, sorted(models.values(),
                                                           key=lambda m: m["name"])))
        return grouped

    @staticmethod
    def _section(name, models):
        return {"name": name, "app_label": name.lower().replace(" ", "_"), "app_url": "",
                "has_module_perms": True, "models": models}
