"""Signals the users app sends for higher layers to react to (it never imports them)."""

from django.dispatch import Signal

# A person's address changed (verified by them, or set by staff): records that copy the
# address (attendees) follow it. Sent inside the transaction; kwargs: user, old_email,
# new_email.
email_changed = Signal()
