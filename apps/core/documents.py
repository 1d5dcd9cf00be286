"""Printable documents (receipts, certificates): one template, as a web page or a PDF."""

from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string


def static_file_path(name: str) -> Path:
    found = finders.find(name)
    if not found:
        raise ImproperlyConfigured(f"The stylesheet {name} cannot be found.")
    return Path(found).resolve()


def render_pdf(*, template: str, context: dict, stylesheet: str) -> bytes:
    """Render `template` to PDF with WeasyPrint. The template links its stylesheet through
    `stylesheet_url`, given here as a local file; nothing but local files and data: URIs
    (e.g. an embedded QR code) is ever fetched."""
    import weasyprint  # heavy (Pango): loaded only when a PDF is asked for

    path = static_file_path(stylesheet)
    html = render_to_string(template, {**context, "stylesheet_url": path.as_uri()})
    fetcher = weasyprint.URLFetcher(allowed_protocols={"file", "data"})
    document = weasyprint.HTML(string=html, base_url=path.parent.as_uri() + "/",
                               url_fetcher=fetcher)
    return document.write_pdf()
