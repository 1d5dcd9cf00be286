"""Every page a customer sees passes an axe-core audit (WCAG 2.2 A/AA and best practices)
with no serious or critical violation, on a phone and on a desktop: the catalogue, the
booking journey (form, form with errors, payment, confirmation), signing in by code, the
portal, the public certificate check and the error pages.

The audit needs its own browser context with the CSP bypassed (axe is injected as a
script); the journeys in the other modules keep the CSP on."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from apps.certificates.attendance import attendance_record
from apps.certificates.models import Certificate
from apps.payments.services import payment_record_manual
from tests.e2e.axe import axe_violations, describe, wider_than_viewport
from tests.e2e.conftest import new_page
from tests.e2e.test_portal_journey import wait_for_code
from tests.factories import SessionFactory, make_booking

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CUSTOMER = "priya.shah@acme-logistics.example"


@pytest.fixture
def audit_page(browser, viewport, screenshot, request):
    page = new_page(browser, viewport, bypass_csp=True)
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            screenshot(page, "failed")
        page.context.close()


@pytest.fixture
def catalogue():
    """Two upcoming sessions in two places, and a past one the customer attended."""
    upcoming = SessionFactory(price=9500, course__title="Emergency First Aid at Work",
                              location__name="Riverside Training Centre",
                              location__city="Leeds")
    SessionFactory(course__title="Fire Marshal", location__city="York",
                   starts_at=timezone.now() + timedelta(days=20))
    past = SessionFactory(course__title="Manual Handling",
                          starts_at=timezone.now() - timedelta(days=2))
    attended = make_booking(past, email=CUSTOMER, now=past.starts_at - timedelta(days=7))
    payment_record_manual(booking=attended, actor=None)
    attendance_record(attendee_ids=list(attended.attendees.values_list("pk", flat=True)),
                      attendance="attended")
    certificate = Certificate.objects.get(attendee__booking=attended)
    return upcoming, certificate


class Audit:
    """Visits pages, audits each, screenshots each, and fails once at the end with every
    violation found (so one run shows all that needs fixing)."""

    def __init__(self, page, shot):
        self.page, self.shot, self.found = page, shot, {}

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        violations = axe_violations(self.page)
        too_wide = wider_than_viewport(self.page)
        if too_wide:
            violations.append({"impact": "serious", "id": "horizontal-overflow",
                               "help": "Content is wider than the viewport",
                               "nodes": [{"target": [t]} for t in too_wide]})
        if violations:
            self.found[f"{name} ({self.page.url})"] = violations
        self.shot(self.page, name)

    def visit(self, url: str, name: str, *, status: int = 200) -> None:
        response = self.page.goto(url)
        assert response.status == status, f"{url}: HTTP {response.status}, expected {status}"
        self.check(name)

    def assert_clean(self) -> None:
        report = "\n".join(f"{page}:\n{describe(v)}" for page, v in self.found.items())
        assert not self.found, f"axe found serious or critical violations:\n{report}"


def test_customer_pages_have_no_serious_accessibility_violations(
        audit_page, live_server, fake_stripe, catalogue, screenshot, settings):
    page, base = audit_page, live_server.url
    session, certificate = catalogue
    audit = Audit(page, screenshot)

    audit.visit(base + "/", "catalogue")
    audit.visit(base + f"/?location={session.location_id}", "catalogue-filtered")
    expect(page.locator(".session-card")).to_have_count(1)
    audit.visit(base + f"/sessions/{session.pk}/", "session")
    audit.visit(base + f"/sessions/{session.pk}/book/", "booking-form")

    # The server's own validation (the form is novalidate): every required field flagged.
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator(".field-error").first).to_be_visible()
    audit.check("booking-form-errors")

    page.get_by_label("Attendee 1: full name").fill("Priya Shah")
    page.get_by_label("Attendee 1: email").fill(CUSTOMER)
    page.get_by_label("First name").fill("Priya")
    page.get_by_label("Last name").fill("Shah")
    page.get_by_label("Email", exact=True).fill(CUSTOMER)
    page.get_by_label("I accept the terms and the cancellation policy").check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    expect(page.locator("#payment-element input").first).to_be_visible()  # Stripe.js mounted
    audit.check("payment")

    reference = page.locator("[data-reference]").inner_text().strip()
    from apps.bookings.models import Booking

    payment_record_manual(booking=Booking.objects.get(reference=reference), actor=None)
    page.reload()
    expect(page.get_by_role("heading", name="You're booked!")).to_be_visible()
    audit.check("confirmation")

    # Signing in by code, then the portal.
    audit.visit(base + "/accounts/login/code/", "sign-in-request-code")
    sent_before = len(mail.outbox)
    page.locator("input[name='email']").fill(CUSTOMER)
    page.get_by_role("button", name="Request Code").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/code/confirm/"))
    audit.check("sign-in-enter-code")
    page.locator("input[name='code']").fill(wait_for_code(CUSTOMER, sent_before=sent_before))
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.get_by_text(certificate.number)).to_be_visible()
    audit.check("portal-bookings-and-certificates")

    audit.visit(base + f"/portal/bookings/{reference}/", "portal-booking")
    audit.visit(base + f"/portal/bookings/{reference}/receipt/", "portal-receipt")
    audit.visit(base + f"/portal/bookings/{reference}/cancel/", "portal-cancel")
    audit.visit(base + "/portal/profile/", "portal-profile")
    audit.visit(base + "/portal/delete/", "portal-delete")
    audit.visit(base + "/accounts/email/", "account-email")
    audit.visit(base + "/accounts/password/set/", "account-password")
    audit.visit(base + f"/certificates/verify/{certificate.verification_code}/",
                "certificate-verify")

    # Error pages: not found, too many requests, a server error.
    audit.visit(base + "/no-such-page/", "error-404", status=404)
    settings.CERTIFICATE_VERIFY_RATE_LIMIT = "1/h"
    page.goto(base + f"/certificates/verify/{certificate.verification_code}/")  # the one
    audit.visit(base + f"/certificates/verify/{certificate.verification_code}/",
                "error-429", status=429)
    settings.ROOT_URLCONF = "tests.e2e.urls_with_error"
    audit.visit(base + "/e2e-broken/", "error-500", status=500)

    audit.assert_clean()
    scripts = [e for e in page.errors if e.startswith("script:")]
    assert not scripts, scripts


def test_the_audit_reports_what_it_must(audit_page):
    """The audit is only worth something if it fails: an unlabelled field, an image with
    no text alternative, grey-on-white text and a table wider than the screen are
    reported, with their elements."""
    audit_page.set_content("""<!doctype html><html lang="en"><title>Test</title>
        <body><main><h1>Form</h1><input type="text" id="nameless"><img src="data:," id="wordless">
        <p id="faint" style="color:#bbb;background:#fff">Barely there</p>
        <table id="wide" style="width:2000px"><tr><td>wide</td></tr></table>
        </main></body></html>""")
    found = {v["id"]: [n["target"] for n in v["nodes"]] for v in axe_violations(audit_page)}
    assert found == {"label": [["#nameless"]], "image-alt": [["#wordless"]],
                     "color-contrast": [["#faint"]]}
    assert wider_than_viewport(audit_page) == ["table#wide", "tbody", "tr", "td"]
