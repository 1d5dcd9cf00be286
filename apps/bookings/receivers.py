"""Reactions to lower layers' signals."""

from django.dispatch import receiver

from apps.users.signals import email_changed

from .models import Attendee


@receiver(email_changed)
def attendees_follow_their_persons_address(sender, user, old_email, new_email, **kwargs):
    # Cancelled places too: they keep the person's current address.
    Attendee.all_objects.filter(user=user).update(email=new_email)
