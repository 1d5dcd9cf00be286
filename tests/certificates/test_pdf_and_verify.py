"""Certificates as PDF documents, their QR code, the public verification page and the
portal download."""

import base64
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from apps.certificates.pdf import (
    PDF_CONTENT_TYPE,
    certificate_filename,
    certificate_html,
    certificate_pdf,
    certificate_qr_data_uri,
    certificate_verify_url,
)
from apps.certificates.selectors import certificate_for_owner, certificate_for_verification
from apps.certificates.services import certificate_issue
from tests.factories import SessionFactory, UserFactory, make_booking

pytestmark = pytest.mark.django_db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# zxing-cpp: prebuilt wheels, no system library. Skip only the decoding when it is absent.
zxingcpp = pytest.importorskip("zxingcpp", reason="QR decoding needs zxing-cpp (test extra)")


def decode_qr(image: Image.Image) -> list[str]:
    image = image.convert("L")
    if image.width < 300:  # a 1-pixel-per-module original: give the decoder room
        image = image.resize((image.width * 8, image.height * 8), Image.NEAREST)
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


@pytest.fixture
def certificate(settings):
    settings.SITE_URL = "https://training.example.com"
    settings.SITE_NAME = "Brightwater Training"
    session = SessionFactory(
        course__title="Emergency First Aid at Work",
        course__validity_months=36,
        trainer__first_name="Priya",
        trainer__last_name="Shah",
        starts_at=timezone.now() - timedelta(days=3),
    )
    booked = make_booking(session, email="amelia.jones@example.com",
                          now=session.starts_at - timedelta(days=20))
    attendee = booked.attendees.get()
    attendee.name = "Amelia Jones"
    attendee.save(update_fields=["name"])
    return certificate_issue(attendee=attendee)


def verify_path(certificate):
    return reverse("certificates:verify", args=[certificate.verification_code])


# --- The document ----------------------------------------------------------------


def test_the_verify_url_is_absolute_on_the_site(certificate):
    url = certificate_verify_url(certificate=certificate)
    assert url == f"https://training.example.com/certificates/verify/{certificate.verification_code}/"


def test_the_pdf_is_one_a4_landscape_page_with_the_holder_and_number(certificate):
    pdf = certificate_pdf(certificate=certificate)
    assert pdf.startswith(b"%PDF-")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "certificate-example.pdf").write_bytes(pdf)

    reader = PdfReader(BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    width_mm, height_mm = float(box.width) / 72 * 25.4, float(box.height) / 72 * 25.4
    assert round(width_mm) == 297 and round(height_mm) == 210  # A4, landscape

    text = pdf_text(pdf)
    assert "Amelia Jones" in text
    assert certificate.number in text
    assert "Emergency First Aid at Work" in text
    assert "Brightwater Training" in text
    assert "Priya Shah" in text
    assert "CERTIFICATE OF COMPLETION" in text.upper()
    assert certificate.issued_on.strftime("%B %Y") in text
    assert certificate.expires_on.strftime("%B %Y") in text
    # The short URL is printed under the QR code (it may wrap at a slash).
    short = f"training.example.com/certificates/verify/{certificate.verification_code}/"
    assert short in "".join(text.split())
    assert "https://" not in text
    # Nothing personal beyond the name.
    assert "amelia.jones@example.com" not in text
    assert "BK-" not in text


def test_the_qr_code_in_the_pdf_decodes_to_the_verify_url(certificate):
    pdf = certificate_pdf(certificate=certificate)
    images = list(PdfReader(BytesIO(pdf)).pages[0].images)
    assert len(images) == 1, "the QR code is the page's only image"
    assert decode_qr(images[0].image) == [certificate_verify_url(certificate=certificate)]


def test_the_qr_code_as_rendered_for_the_pdf_decodes_to_the_verify_url(certificate):
    uri = certificate_qr_data_uri(certificate=certificate)
    assert uri.startswith("data:image/png;base64,")
    image = Image.open(BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert decode_qr(image) == [certificate_verify_url(certificate=certificate)]


def test_the_html_has_no_inline_script_or_style(certificate):
    html = certificate_html(certificate=certificate)
    assert "<script" not in html
    assert "<style" not in html
    assert " style=" not in html
    assert "/static/css/certificate.css" in html
    assert 'src="data:image/png;base64,' in html


def test_a_certificate_without_expiry_says_so(settings):
    settings.SITE_URL = "http://testserver"
    session = SessionFactory(course__validity_months=None)
    certificate = certificate_issue(attendee=make_booking(session).attendees.get())
    text = pdf_text(certificate_pdf(certificate=certificate))
    assert "Does not expire" in text


def test_a_revoked_certificate_pdf_says_it_is_revoked(certificate):
    certificate.revoked_at = timezone.now()
    certificate.save(update_fields=["revoked_at"])
    text = pdf_text(certificate_pdf(certificate=certificate))
    assert "REVOKED ON" in text.upper()


def test_filename(certificate):
    assert certificate_filename(certificate=certificate) == f"certificate-{certificate.number}.pdf"


# --- Selectors -------------------------------------------------------------------------


def test_selectors(certificate):
    assert certificate_for_verification(code=certificate.verification_code) == certificate
    assert certificate_for_verification(code=certificate.verification_code.swapcase()) is None
    assert certificate_for_verification(code="x" * 500) is None
    assert certificate_for_verification(code="") is None
    owner = certificate.user
    assert certificate_for_owner(user=owner, number=certificate.number) == certificate
    assert certificate_for_owner(user=owner, number=certificate.number.lower()) == certificate
    assert certificate_for_owner(user=UserFactory(), number=certificate.number) is None


# --- The public verification page -------------------------------------------------------


def assert_private_and_not_indexed(response):
    assert response["X-Robots-Tag"].startswith("noindex")
    assert "no-store" in response["Cache-Control"]


def assert_nothing_personal(response, certificate):
    body = response.content.decode()
    assert certificate.user.email not in body
    assert certificate.attendee.email not in body
    assert certificate.attendee.booking.reference not in body
    assert "@example.com" not in body


def test_a_valid_certificate(client, certificate):
    response = client.get(verify_path(certificate))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-status="valid"' in body
    assert "Valid certificate" in body
    assert "Amelia Jones" in body
    assert "Emergency First Aid at Work" in body
    assert certificate.number in body
    assert f"{certificate.issued_on.day} {certificate.issued_on:%B %Y}" in body
    assert f"{certificate.expires_on.day} {certificate.expires_on:%B %Y}" in body
    assert 'class="badge badge-ok" data-badge>Valid<' in body
    assert_private_and_not_indexed(response)
    assert_nothing_personal(response, certificate)


def test_an_expired_certificate(client, certificate):
    certificate.expires_on = timezone.localdate() - timedelta(days=1)
    certificate.save(update_fields=["expires_on"])
    response = client.get(verify_path(certificate))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-status="expired"' in body
    assert "Expired certificate" in body
    assert "data-badge>Expired<" in body
    assert "Amelia Jones" in body
    assert_nothing_personal(response, certificate)


def test_a_revoked_certificate_shows_the_date_but_not_the_reason(client, certificate):
    certificate.revoked_at = timezone.now() - timedelta(days=2)
    certificate.revoked_reason = "Attendance record found to be falsified"
    certificate.save(update_fields=["revoked_at", "revoked_reason"])
    response = client.get(verify_path(certificate))
    assert response.status_code == 200
    body = response.content.decode()
    revoked_on = timezone.localtime(certificate.revoked_at).date()
    assert 'data-status="revoked"' in body
    assert f"Revoked on {revoked_on.day} {revoked_on:%b %Y}" in body
    assert "falsified" not in body
    assert_nothing_personal(response, certificate)


def test_an_unknown_code_is_a_friendly_404(client, certificate):
    response = client.get(reverse("certificates:verify", args=["no-such-code-at-all"]))
    assert response.status_code == 404
    body = response.content.decode()
    assert 'data-status="not_found"' in body
    assert "Certificate not found" in body
    assert "Amelia Jones" not in body
    assert '<link rel="stylesheet" href="/static/css/site.css">' in body  # the site's page
    assert_private_and_not_indexed(response)


def test_the_verify_page_needs_no_sign_in(client, certificate):
    response = client.get(verify_path(certificate))
    assert response.status_code == 200
    assert "Sign in" in response.content.decode()  # the anonymous header, not a redirect


# --- The portal download --------------------------------------------------------------


def pdf_path(certificate):
    return reverse("certificates:pdf", args=[certificate.number])


def test_the_owner_downloads_the_pdf(client, certificate):
    client.force_login(certificate.user)
    response = client.get(pdf_path(certificate))
    assert response.status_code == 200
    assert response["Content-Type"] == PDF_CONTENT_TYPE
    assert response["Content-Disposition"] == (
        f'attachment; filename="certificate-{certificate.number}.pdf"')
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")
    assert certificate.number in pdf_text(response.content)


def test_another_customer_gets_a_404(client, certificate):
    client.force_login(UserFactory())
    assert client.get(pdf_path(certificate)).status_code == 404


def test_an_unknown_number_is_a_404(client, certificate):
    client.force_login(certificate.user)
    assert client.get(reverse("certificates:pdf", args=["CERT-NOPE"])).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, certificate):
    response = client.get(pdf_path(certificate))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/code/?next=")
    assert certificate.number in response["Location"]


def test_staff_need_the_view_permission(client, certificate):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(pdf_path(certificate)).status_code == 404

    staff.user_permissions.add(Permission.objects.get(
        content_type__app_label="certificates", codename="view_certificate"))
    staff = type(staff).objects.get(pk=staff.pk)  # fresh permission cache
    client.force_login(staff)
    response = client.get(pdf_path(certificate))
    assert response.status_code == 200
    assert response["Content-Type"] == PDF_CONTENT_TYPE


def test_the_permission_without_staff_is_not_enough(client, certificate):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(
        content_type__app_label="certificates", codename="view_certificate"))
    client.force_login(user)
    assert client.get(pdf_path(certificate)).status_code == 404
