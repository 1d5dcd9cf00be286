"""Certificates as documents: HTML and an A4 landscape PDF (WeasyPrint).

The certificate carries a QR code of its public verification URL (`certificates:verify`)
and the same URL in print under it, so that whoever is shown the paper can check that it
is genuine, still valid and not revoked. The QR code is a PNG data URI made by segno: no
file is written and nothing is fetched over the network when the PDF is made (only the
local stylesheet, through a `file:` only URL fetcher, as the booking receipt does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from apps.core.documents import render_pdf

from .models import Certificate

TEMPLATE_NAME = "certificates/certificate.html"
STYLESHEET = "css/certificate.css"
PDF_CONTENT_TYPE = "application/pdf"

# The QR code: error correction M (15%) survives a crease or a smudge; 10 pixels per
# module and the standard 4-module quiet zone. The CSS sizes it and keeps it unsmoothed.
QR_ERROR = "m"
QR_SCALE = 10
QR_BORDER = 4
QR_DARK = "#000000"


@dataclass(frozen=True)
class CertificateDocument:
    provider_name: str
    number: str
    holder_name: str
    course_title: str
    session_dates: str  # "12 March 2026", or "12–13 March 2026" over two days
    trainer_name: str  # "" when the trainer's profile has no name
    issued_on: date
    expires_on: date | None
    revoked_on: date | None
    verify_url: str
    verify_url_short: str  # the same without the scheme, for print
    qr_data_uri: str


def certificate_verify_url(*, certificate: Certificate) -> str:
    """The public page that confirms this certificate, as an absolute URL."""
    path = reverse("certificates:verify", args=[certificate.verification_code])
    return settings.SITE_URL.rstrip("/") + path


def short_url(url: str) -> str:
    """`https://example.com/certificates/verify/x/` -> `example.com/certificates/verify/x/`"""
    return url.split("://", 1)[-1]


def certificate_qr(*, certificate: Certificate):
    """The QR code (a segno QRCode) that encodes the verification URL."""
    return segno.make(certificate_verify_url(certificate=certificate), error=QR_ERROR,
                      micro=False)


def certificate_qr_data_uri(*, certificate: Certificate) -> str:
    """The QR code as a `data:image/png;base64,...` URI, exactly as the PDF embeds it."""
    return certificate_qr(certificate=certificate).png_data_uri(
        scale=QR_SCALE, border=QR_BORDER, dark=QR_DARK, light="#ffffff"
    )


def _session_dates(session) -> str:
    start = timezone.localtime(session.starts_at).date()
    end = timezone.localtime(session.ends_at).date()
    if start == end:
        return f"{start.day} {start:%B %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {end:%B %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%B} – {end.day} {end:%B %Y}"
    return f"{start.day} {start:%B %Y} – {end.day} {end:%B %Y}"


def certificate_document(*, certificate: Certificate) -> CertificateDocument:
    """Everything the certificate shows. Nothing from the holder's account (email,
    phone, booking) goes on it: only the name the certificate was issued to."""
    certificate = Certificate.objects.select_related("course", "session__trainer").get(
        pk=certificate.pk
    )
    session = certificate.session
    verify_url = certificate_verify_url(certificate=certificate)
    return CertificateDocument(
        provider_name=settings.SITE_NAME,
        number=certificate.number,
        holder_name=certificate.holder_name,
        course_title=certificate.course.title,
        session_dates=_session_dates(session),
        trainer_name=session.trainer.full_name,
        issued_on=certificate.issued_on,
        expires_on=certificate.expires_on,
        revoked_on=(timezone.localtime(certificate.revoked_at).date()
                    if certificate.revoked_at else None),
        verify_url=verify_url,
        verify_url_short=short_url(verify_url),
        qr_data_uri=certificate_qr_data_uri(certificate=certificate),
    )


def _context(*, certificate: Certificate, stylesheet_url: str) -> dict:
    return {
        "certificate": certificate_document(certificate=certificate),
        "stylesheet_url": stylesheet_url,
    }


def certificate_html(*, certificate: Certificate) -> str:
    """The certificate as a standalone HTML page (links /static/css/certificate.css).
    No inline script or style: the QR code is an <img> with a data: URI."""
    return render_to_string(
        TEMPLATE_NAME, _context(certificate=certificate, stylesheet_url=static(STYLESHEET))
    )


def certificate_filename(*, certificate: Certificate) -> str:
    """What to offer the PDF as: `certificate-CERT-0A1B2C3D4E.pdf`."""
    return f"certificate-{certificate.number}.pdf"


def certificate_pdf(*, certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 landscape PDF. Only local files are fetched
    (and the QR code's data: URI, which WeasyPrint decodes without fetching)."""
    return render_pdf(template=TEMPLATE_NAME,
                      context=_context(certificate=certificate, stylesheet_url=""),
                      stylesheet=STYLESHEET)
