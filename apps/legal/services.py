from django.db import transaction
from django.db.models import Max

from apps.users.audit import log_action

from .models import LegalDocument


def legal_document_create(*, kind: str, body: str, published_at=None, actor=None) -> LegalDocument:
    """A new version of a document. The unique (kind, version) constraint decides if two
    staff publish at the same moment: the second gets an IntegrityError, never a clash."""
    with transaction.atomic():
        latest = LegalDocument.objects.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0
        document = LegalDocument.objects.create(kind=kind, version=latest + 1, body=body,
                                                published_at=published_at)
        log_action("legal.document_created", actor=actor, target=document,
                   data={"kind": kind, "version": document.version,
                         "published": published_at is not None})
    return document
