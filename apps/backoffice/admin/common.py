"""Pieces the back office's admins share."""

from dataclasses import replace

from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.shortcuts import redirect
from django.urls import reverse

from apps.backoffice.hub import activity_timeline, admin_edits, history_activity_query


class ReadOnlyInline(admin.TabularInline):
    """A history shown on its parent's page: nothing is added, changed or deleted here."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class NeverDeleted:
    """A ledger record's admin (apps/core/ledger.py): no delete button, no delete action,
    no delete page, for every role; the model refuses below the admin too."""

    def has_delete_permission(self, request, obj=None):
        return False


class KeptOnceMoneyMoved:
    """Bookings and people with money against them are never deleted, only anonymised:
    the delete page says so and points at erasure instead of listing protected rows."""

    kept_message = ("{obj} is kept: money has moved on it, and payments are never deleted. "
                    "To remove the person's data, erase their account (the customer does it "
                    "from their portal profile); the accounting stays, anonymised.")

    def money_moved(self, obj) -> bool:
        raise NotImplementedError

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self.money_moved(obj):
            return False  # no Delete button; the delete page explains (below)
        return super().has_delete_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        # Only someone who could otherwise delete it is told why not; others get a 403.
        may_delete = super().has_delete_permission(request, obj)
        if obj is not None and may_delete and self.money_moved(obj):
            self.message_user(request, self.kept_message.format(obj=obj), messages.ERROR)
            return redirect(reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}"
                                    "_change", args=[obj.pk]))
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        if "delete_selected" in actions:
            delete_selected = actions["delete_selected"].func

            def guarded(modeladmin, request, queryset):
                kept = [obj for obj in queryset if self.money_moved(obj)]
                if kept:
                    self.message_user(request, self.kept_message.format(
                        obj=", ".join(str(obj) for obj in kept)), messages.ERROR)
                    return None
                return delete_selected(modeladmin, request, queryset)

            actions["delete_selected"] = replace(actions["delete_selected"], func=guarded)
        return actions


class UnifiedHistory:
    """An object's History page shows one timeline: the domain activity log (who, when,
    what, before → after) and the admin's own edit log together, newest first."""

    object_history_template = "admin/unified_history.html"

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context = {**(extra_context or {}), "timeline": activity_timeline(
                activity_query=history_activity_query(obj), log_entries=admin_edits(obj))}
        return super().history_view(request, object_id, extra_context)
