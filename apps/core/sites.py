"""django.contrib.sites' one row (SITE_ID), kept in step with SITE_URL and SITE_NAME.

allauth names the site in its emails from this row ("Hello from …", the subject's
"[…]" prefix); without it allauth falls back to the request's host ("127.0.0.1:8101").
The settings are the one source: every `migrate` (each deployment runs it) writes them
into the row, so an edit made elsewhere does not last.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sites.models import SITE_CACHE, Site


def site_sync(*, using: str = "default") -> None:
    Site.objects.using(using).update_or_create(
        pk=settings.SITE_ID,
        defaults={"domain": urlsplit(settings.SITE_URL).netloc[:100],
                  "name": settings.SITE_NAME[:50]},
    )
    SITE_CACHE.clear()


def site_sync_after_migrate(sender, using="default", **kwargs) -> None:
    site_sync(using=using)
