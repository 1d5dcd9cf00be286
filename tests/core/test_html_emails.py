"""Every email has a plain-text part and a branded HTML part made from it, each escaped for
what it is (issue #19 item 6): the text never shows HTML entities, the HTML never runs what
a customer typed. allauth's emails go through the same outbox."""

import re
from email import message_from_bytes
from html import unescape
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from django.contrib.sites.models import Site
from django.core import mail
from django.core.management.sql import emit_post_migrate_signal
from django.test import Client

from apps.core.email_html import DEFAULT_COLOUR
from apps.core.emails import BODY_NOT_KEPT, communication_send
from apps.core.models import Communication
from apps.core.sites import site_sync
from apps.users.models import User
from tests.bookings.notify_helpers import awkward_session, book, pay
from tests.bookings.test_email_kinds import every_email  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

KIND = Communication.Kind
NAME = "O'Connor & Sons <script>alert('x')</script>"


class _Text(HTMLParser):
    """What a person reads in an HTML document (entities decoded), and its scripts."""

    def __init__(self):
        super().__init__()
        self.text, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"

    def handle_data(self, data):
        self.text.append(data)


def read_html(html: str) -> tuple[str, int]:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.text).split()), parser.scripts


def html_part(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def send(communication) -> mail.EmailMessage:
    mail.outbox.clear()
    assert communication_send(communication_id=communication.pk)
    [message] = mail.outbox
    return message


@pytest.fixture
def brand(settings):
    settings.SITE_NAME = "Harbour & Hale's Training"
    settings.BRAND_COLOUR = "#7c2d12"
    settings.BRAND_LOGO_URL = "https://cdn.example.com/harbour-logo.png"
    settings.BRAND_ADDRESS = "Harbour & Hale Ltd, 1 Quay Street, Bristol BS1 4RW"
    return settings


def test_a_name_with_an_apostrophe_an_ampersand_and_a_script_reads_right_in_both_parts(
        brand, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(awkward_session(), purchaser=(f"Liam {NAME}", "liam@example.com"),
                           attendees=[("Zoë Guest", "zoe@example.com")]))
    guest = Communication.objects.get(kind=KIND.BOOKING_CONFIRMATION, booking=booking,
                                      recipient="zoe@example.com")
    message = send(guest)

    # Plain text: the name exactly as typed, no entity anywhere.
    assert f"Liam {NAME} has booked a seat for you." in message.body
    for entity in ("&#", "&lt;", "&gt;", "&amp;", "&quot;"):
        assert entity not in message.body and entity not in message.subject

    # HTML: escaped once (the name reads as typed in a browser), never a tag.
    html = html_part(message)
    assert html == guest.html_body
    assert "<script" not in html.lower()
    assert "O&#x27;Connor &amp; Sons &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&amp;amp;" not in html and "&amp;#x27;" not in html  # not escaped twice
    text, scripts = read_html(html)
    assert scripts == 0
    assert f"Liam {NAME} has booked a seat for you." in text
    # The course title with its apostrophe, in the heading and the details table.
    assert "Premiers secours d'urgence" in text
    assert re.search(r"<td[^>]*>Course</td><td[^>]*>Premiers secours d&#x27;urgence", html)


@pytest.mark.usefixtures("brand", "every_email")  # branded first, then every email made
def test_every_kind_of_email_has_both_parts_the_brand_and_its_attachments():
    kinds = set()
    for communication in Communication.objects.order_by("pk"):
        message = send(communication)
        html = html_part(message)
        kinds.add(communication.kind)
        text, scripts = read_html(html)
        assert scripts == 0, communication.kind
        assert message.body == communication.body
        # Branded: the colour, the logo, the provider's name and address, why they got it.
        assert 'bgcolor="#7c2d12"' in html, communication.kind
        assert 'src="https://cdn.example.com/harbour-logo.png"' in html
        assert 'alt="Harbour &amp; Hale&#x27;s Training"' in html
        assert "Harbour & Hale Ltd, 1 Quay Street, Bristol BS1 4RW" in text
        assert "You received this email because" in text
        # Every link of the text part is a link in the HTML part (percent-encoded there).
        hrefs = {unquote(unescape(href)) for href in re.findall(r'href="([^"]+)"', html)}
        for url in re.findall(r"http://testserver[^\s)>,]*", communication.body):
            assert unquote(url) in hrefs, (communication.kind, url)
        # Attachments (calendar files, certificate PDFs) still travel with the email.
        assert [a[0] for a in message.attachments] == [
            a["filename"] for a in communication.attachments], communication.kind
        raw = message_from_bytes(message.message().as_bytes())
        assert raw.get_content_type() == (
            "multipart/mixed" if communication.attachments else "multipart/alternative")
    assert {KIND.BOOKING_CONFIRMATION, KIND.CERTIFICATE_ISSUED, KIND.REFUND_ISSUED} <= kinds
    certificate = Communication.objects.get(kind=KIND.CERTIFICATE_ISSUED)
    assert any(a["mimetype"] == "application/pdf" for a in certificate.attachments)


def test_a_colour_that_is_not_a_colour_never_reaches_the_css(settings,
                                                            django_capture_on_commit_callbacks):
    settings.BRAND_COLOUR = "red;background:url(https://evil.example/x)"
    settings.BRAND_LOGO_URL = ""
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(awkward_session(), purchaser=("Ann Lee", "ann@example.com"),
                           attendees=[("Ann Lee", "ann@example.com")]))
    html = Communication.objects.get(booking=booking).html_body
    assert "evil.example" not in html and f'bgcolor="{DEFAULT_COLOUR}"' in html
    assert "<img" not in html  # no logo configured: the name stands in the header
    assert f">{settings.SITE_NAME}</a>" in html


# --- allauth's emails --------------------------------------------------------------------

HOST = "127.0.0.1:8101"  # the host the request came in on: never the name of the site


def account_emails(client_call) -> list[tuple[Communication, mail.EmailMessage]]:
    before = Communication.objects.order_by("pk").values_list("pk", flat=True).last() or 0
    mail.outbox.clear()
    client_call()
    rows = list(Communication.objects.filter(pk__gt=before).order_by("pk"))
    assert {row.kind for row in rows} == {KIND.ACCOUNT}
    assert len(rows) == len(mail.outbox) >= 1
    return list(zip(rows, mail.outbox, strict=True))


def assert_under_the_sites_name(communication, message, settings):
    assert communication.status == Communication.Status.SENT
    assert message.subject == communication.subject
    assert message.subject.startswith(f"[{settings.SITE_NAME}] ")
    assert f"Hello from {settings.SITE_NAME}," in message.body
    for part in (message.subject, message.body, html_part(message)):
        assert HOST not in part and "example.com]" not in part
    text, _ = read_html(html_part(message))
    assert settings.SITE_NAME in text and "on your" in text  # the account footer
    assert message.from_email == settings.DEFAULT_FROM_EMAIL


@pytest.mark.django_db(transaction=True)  # sent on commit, as in production
def test_every_allauth_email_is_recorded_and_sent_under_the_sites_name(settings):
    settings.SITE_NAME = "Harbour & Hale's Training"
    site_sync()
    customer = User.objects.create_user(email="pat.o'neil@example.com", first_name="Pat")
    staff_password = "a long staff pw 123"  # pragma: allowlist secret
    staff = User.objects.create_user(email="ops@example.com", password=staff_password,
                                     role=User.Role.SUPPORT)
    client = Client(HTTP_HOST=HOST)

    # A customer's sign-in code.
    [(row, message)] = account_emails(lambda: client.post(
        "/accounts/login/code/", {"email": customer.email}))
    assert row.recipient == customer.email and row.user == customer
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", message.body, re.M).group(1)
    assert_under_the_sites_name(row, message, settings)
    assert "pat.o&#x27;neil" not in message.body
    # Sent, then kept without the code: support staff read the log, they cannot sign in.
    assert row.carries_secret and row.body == BODY_NOT_KEPT and row.html_body == ""
    assert code not in row.body

    # The address confirmation when a signed-in customer adds a new address.
    signed_in = Client(HTTP_HOST=HOST)
    signed_in.force_login(customer)
    rows = account_emails(lambda: signed_in.post(
        "/accounts/email/", {"action_add": "", "email": "pat.new@example.com"}))
    confirm = [(r, m) for r, m in rows if r.recipient == "pat.new@example.com"]
    assert confirm and "/accounts/confirm-email/" in confirm[0][1].body
    for row, message in rows:
        assert_under_the_sites_name(row, message, settings)
    assert confirm[0][0].body == BODY_NOT_KEPT

    # A password reset (staff sign in with a password).
    [(row, message)] = account_emails(lambda: Client(HTTP_HOST=HOST).post(
        "/accounts/password/reset/", {"email": staff.email}))
    assert "/accounts/password/reset/key/" in message.body
    assert_under_the_sites_name(row, message, settings)
    assert row.body == BODY_NOT_KEPT

    # A staff address asking for a code is told how staff sign in: nothing secret, kept.
    [(row, message)] = account_emails(lambda: Client(HTTP_HOST=HOST).post(
        "/accounts/login/code/", {"email": staff.email}))
    assert_under_the_sites_name(row, message, settings)
    assert f"{settings.SITE_URL}/accounts/login/" in message.body
    assert not row.carries_secret and row.body == message.body and row.html_body


def test_the_site_row_follows_the_settings(settings):
    site = Site.objects.get_current()
    assert (site.name, site.domain) == (settings.SITE_NAME, "testserver")  # after migrate
    settings.SITE_NAME = "Harbour Training"
    settings.SITE_URL = "https://book.harbour.example"
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")  # a deployment
    site = Site.objects.get_current()
    assert (site.name, site.domain) == ("Harbour Training", "book.harbour.example")
    assert Site.objects.count() == 1


def test_staff_read_the_html_in_a_sandboxed_frame(admin_client,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(awkward_session(), purchaser=(f"Liam {NAME}", "liam@example.com"),
                           attendees=[("Liam O'Connor", "liam@example.com")]))
    communication = Communication.objects.get(booking=booking)
    page = admin_client.get(f"/admin/core/communication/{communication.pk}/change/")
    frame = f'src="/admin/core/communication/{communication.pk}/html/" sandbox=""'
    assert frame in page.content.decode()
    document = admin_client.get(f"/admin/core/communication/{communication.pk}/html/")
    assert document.status_code == 200
    assert document.content.decode() == communication.html_body
    policy = document["Content-Security-Policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and document["X-Frame-Options"] == "SAMEORIGIN"
    assert Client().get(f"/admin/core/communication/{communication.pk}/html/").status_code == 302
