from django.shortcuts import render
from django.views.decorators.http import require_GET

from .models import LegalDocument
from .selectors import legal_document_current


def _document_page(request, kind):
    return render(request, "legal/document.html", {
        "kind_label": LegalDocument.Kind(kind).label,
        "document": legal_document_current(kind=kind),
    })


@require_GET
def terms(request):
    return _document_page(request, LegalDocument.Kind.TERMS)


@require_GET
def privacy(request):
    return _document_page(request, LegalDocument.Kind.PRIVACY)
