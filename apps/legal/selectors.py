from datetime import datetime

from django.utils import timezone

from .models import LegalDocument


def legal_document_current(*, kind: str, now: datetime | None = None) -> LegalDocument | None:
    """The latest published version of the terms or the privacy notice (None: none yet)."""
    now = now or timezone.now()
    return (LegalDocument.objects.filter(kind=kind, published_at__lte=now)
            .order_by("-version").first())
