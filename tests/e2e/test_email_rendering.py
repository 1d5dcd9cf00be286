"""The HTML emails as a recipient's mail app shows them: opened in Chromium on a phone and a
desktop, branded, readable without scrolling sideways. Screenshots in
test-artifacts/e2e/<viewport>/."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from apps.core.models import Communication
from apps.core.sites import site_sync
from apps.users.models import User
from tests.bookings.notify_helpers import awkward_session, book, pay

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="220" height="40" viewBox="0 0 220 40">'
        '<rect x="0" y="4" width="32" height="32" rx="7" fill="#fff"/>'
        '<path d="M13 10h6v6h6v6h-6v6h-6v-6H7v-6h6z" fill="#7c2d12"/>'
        '<text x="42" y="27" font-family="Arial" font-size="18" font-weight="bold" '
        'fill="#fff">Harbour &amp; Hale</text></svg>')


@pytest.fixture
def branded(settings):
    settings.SITE_NAME = "Harbour & Hale Training"
    settings.BRAND_COLOUR = "#7c2d12"
    settings.BRAND_LOGO_URL = "https://cdn.example.com/logo.svg"
    settings.BRAND_ADDRESS = "Harbour & Hale Ltd, 1 Quay Street, Bristol BS1 4RW"
    site_sync()  # what the next deployment's migrate does


def open_email(page, html: str):
    page.route("https://cdn.example.com/**",
               lambda route: route.fulfill(body=LOGO, content_type="image/svg+xml"))
    page.set_content(html)
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    expect(page.get_by_role("img", name="Harbour & Hale Training")).to_be_visible()


@pytest.mark.usefixtures("branded")
def test_a_booking_confirmation_email_reads_well(page, screenshot,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(awkward_session(), purchaser=("Liam O'Connor & Co", "liam@example.com"),
                           attendees=[("Liam O'Connor", "liam@example.com"),
                                      ("Zoë <b>Ålesund</b>", "zoe@example.com")]))
    email = Communication.objects.get(booking=booking, recipient="liam@example.com")
    open_email(page, email.html_body)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Booking confirmed")
    expect(page.get_by_text("Zoë <b>Ålesund</b>")).to_be_visible()  # typed, shown as typed
    expect(page.get_by_role("link", name=email.body.split("Your booking: ")[1].split()[0])
           ).to_be_visible()
    screenshot(page, "booking-confirmation")

    guest = Communication.objects.get(booking=booking, recipient="zoe@example.com")
    open_email(page, guest.html_body)
    expect(page.get_by_text("Liam O'Connor & Co has booked a seat for you.")).to_be_visible()
    screenshot(page, "guest-confirmation")


@pytest.mark.usefixtures("branded")
def test_a_sign_in_code_email_reads_well(page, screenshot, django_capture_on_commit_callbacks):
    customer = User.objects.create_user(email="pat@example.com", first_name="Pat")
    with django_capture_on_commit_callbacks(execute=False):
        Client().post("/accounts/login/code/", {"email": customer.email})
    email = Communication.objects.get(kind=Communication.Kind.ACCOUNT)
    open_email(page, email.html_body)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-In Code")
    code = next(line.strip() for line in email.body.splitlines() if "-" in line and
                line.strip().isupper() and len(line.strip()) == 9)
    expect(page.get_by_text(code, exact=True)).to_have_css("font-size", "24px")
    screenshot(page, "sign-in-code")
