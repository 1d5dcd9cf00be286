"""Pieces the back office's admins share."""

from django.contrib import admin


class ReadOnlyInline(admin.TabularInline):
    """A history shown on its parent's page: nothing is added, changed or deleted here."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
