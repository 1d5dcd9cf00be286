"""The public verification page of a certificate, and its PDF in the customer portal."""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe
from django_ratelimit.core import is_ratelimited
from django_ratelimit.exceptions import Ratelimited

from . import pdf
from .selectors import certificate_for_owner, certificate_for_staff, certificate_for_verification

VERIFY_TEMPLATE = "certificates/verify.html"
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class PublicCertificate:
    """All that the public page shows of a certificate: nothing about the holder but
    the name it was issued to (no email, phone, booking or account)."""

    number: str
    holder_name: str
    course_title: str
    issued_on: date
    expires_on: date | None
    revoked_on: date | None
    status: str  # Certificate.validity(): "valid", "expired" or "revoked"


def _public(certificate) -> PublicCertificate:
    return PublicCertificate(
        number=certificate.number,
        holder_name=certificate.holder_name,
        course_title=certificate.course.title,
        issued_on=certificate.issued_on,
        expires_on=certificate.expires_on,
        revoked_on=(timezone.localtime(certificate.revoked_at).date()
                    if certificate.revoked_at else None),
        status=certificate.validity(),
    )


@require_safe
@never_cache
def verify(request, code):
    rate = getattr(settings, "CERTIFICATE_VERIFY_RATE_LIMIT", "300/h")
    if is_ratelimited(request, group="certificate-verify", key="ip", rate=rate, increment=True):
        raise Ratelimited()
    certificate = certificate_for_verification(code=code)
    if certificate is None:
        response = render(request, VERIFY_TEMPLATE, {"status": NOT_FOUND, "certificate": None},
                          status=404)
    else:
        public = _public(certificate)
        response = render(request, VERIFY_TEMPLATE,
                          {"status": public.status, "certificate": public,
                           "checked_on": timezone.localdate()})
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@login_required
@require_GET
@never_cache
def portal_certificate_pdf(request, number):
    certificate = (certificate_for_owner(user=request.user, number=number)
                   or certificate_for_staff(user=request.user, number=number))
    if certificate is None:
        raise Http404("No certificate with that number is yours.")
    response = HttpResponse(pdf.certificate_pdf(certificate=certificate),
                            content_type=pdf.PDF_CONTENT_TYPE)
    response["Content-Disposition"] = (
        f'attachment; filename="{pdf.certificate_filename(certificate=certificate)}"')
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
