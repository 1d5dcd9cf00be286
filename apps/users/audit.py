"""Audit trail: one call records who did what to which object, in the activity log
(users.ActivityLog), so the helper lives beside the model."""

from django.apps import apps
from django.db import models


def log_action(action: str, *, actor=None, target: models.Model | None = None, user=None,
               data: dict | None = None):
    # Looked up in the app registry, not imported: users.models (the user manager records
    # a role given at creation through users.roles) imports this module.
    activity_log = apps.get_model("users", "ActivityLog")
    return activity_log.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        user_id=getattr(user, "pk", user),
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
    )
