"""Reactions to allauth's signals."""

from allauth.account.signals import email_changed
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.dispatch import receiver

from .services import user_email_changed


@receiver(email_changed)
def follow_a_verified_email_change(sender, request, user, from_email_address,
                                   to_email_address, **kwargs):
    """A person verified their new address (allauth made it their only one): everything
    else that follows a change happens here; the browser that confirmed stays signed in."""
    old_email = from_email_address.email if from_email_address else ""
    if not old_email or old_email == to_email_address.email:
        return
    user_email_changed(user=user, old_email=old_email, actor=user)
    # Not request.user: evaluating it now would check the session against the new
    # address and sign this browser out too.
    session = getattr(request, "session", None)
    if session is not None and str(session.get(SESSION_KEY)) == str(user.pk):
        session.cycle_key()
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
