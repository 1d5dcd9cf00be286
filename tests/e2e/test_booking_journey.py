"""A customer books two seats and pays by card, in a real browser, against the live server
and the local fake Stripe. The fake signs its webhooks and delivers them back to the live
server (Celery is eager in tests, so each one is processed inside that request).

Screenshots of every step go to test-artifacts/e2e/<viewport>/ (git-ignored)."""

import re
import time

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment, StripeEvent
from tests.conftest import register_fake_stripe_webhook
from tests.factories import SessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
# DJANGO_ALLOW_ASYNC_UNSAFE is set for these tests by a module-scoped fixture in
# tests/e2e/conftest.py, and put back afterwards (see there why).

CONFIRMATION_TIMEOUT_MS = 20_000
WEBHOOK_TIMEOUT_S = 20
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
THREE_D_SECURE_CARD = "4000002500003155"

# An office manager books two of her staff: three people get a confirmation each.
PURCHASER = {
    "first_name": "Priya",
    "last_name": "Shah",
    "email": "priya.shah@acme-logistics.example",
    "phone": "020 7946 0000",
    "company_name": "Acme Logistics Ltd",
}
ATTENDEES = [
    ("Tom Baker", "tom.baker@acme-logistics.example"),
    ("Amira Khan", "amira.khan@acme-logistics.example"),
]


@pytest.fixture
def stripe_webhook(fake_stripe, live_server):
    """The fake delivers its events to this run's live server."""
    register_fake_stripe_webhook(
        fake_stripe, live_server.url + "/webhooks/stripe/", django_settings.STRIPE_WEBHOOK_SECRET
    )
    return fake_stripe


@pytest.fixture
def course_session():
    return SessionFactory(
        capacity=10,
        price=9500,
        currency="GBP",
        course__title="Emergency First Aid at Work",
        course__summary="One day, hands-on: CPR, recovery position, bleeding, burns.",
        course__description="Everything the HSE expects of an emergency first aider.",
        location__name="Riverside Training Centre",
        location__city="Leeds",
    )


def wait_for(condition, *, timeout: float = WEBHOOK_TIMEOUT_S, what: str):
    """Poll the database (the live server writes to it from its own threads)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def wait_for_webhook(event_type: str, payment: Payment) -> StripeEvent:
    """The fake sends each event about a second after the fact; wait until the portal has
    received and processed it, so nothing arrives after this test's data is gone."""

    def processed():
        payment.refresh_from_db()
        if not payment.stripe_payment_intent_id:
            return None
        return StripeEvent.objects.filter(
            type=event_type,
            object_id=payment.stripe_payment_intent_id,
            status=StripeEvent.Status.PROCESSED,
        ).first()

    return wait_for(processed, what=f"{event_type} for payment {payment.pk} to be processed")


def book_two_seats(page: Page, live_server, course_session, shot) -> str:
    """Catalogue → session page → booking form → payment page. Returns the reference."""
    page.goto(live_server.url + "/")
    card = page.locator(".session-card", has_text=course_session.course.title)
    expect(card).to_be_visible()
    expect(card.locator(".price")).to_contain_text("£95.00")
    expect(card.locator("[data-seats-left]")).to_have_text("10 seats left")
    shot(page, "catalogue")

    card.get_by_role("link", name=re.compile("View & book")).click()
    expect(page).to_have_url(re.compile(rf"/sessions/{course_session.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(course_session.course.title)
    expect(page.locator("#availability [data-seats-left]")).to_have_text("10 of 10 seats left")
    shot(page, "session")

    page.get_by_role("link", name="Book now").click()
    expect(page).to_have_url(re.compile(rf"/sessions/{course_session.pk}/book/$"))
    expect(page.get_by_label("Attendee 1: full name")).to_be_visible()
    expect(page.get_by_label("Attendee 2: full name")).to_have_count(0)

    # Two seats: HTMX re-renders the fields with a second attendee row.
    page.get_by_label("Number of seats").select_option("2")
    expect(page.get_by_label("Attendee 2: full name")).to_be_visible()
    expect(page.get_by_label("Attendee 2: email")).to_be_visible()
    expect(page.get_by_label("Number of seats")).to_have_value("2")
    expect(page.locator("[data-total]")).to_have_text("£190.00")

    for n, (name, email) in enumerate(ATTENDEES, start=1):
        page.get_by_label(f"Attendee {n}: full name").fill(name)
        page.get_by_label(f"Attendee {n}: email").fill(email)
    page.get_by_label("First name").fill(PURCHASER["first_name"])
    page.get_by_label("Last name").fill(PURCHASER["last_name"])
    page.get_by_label("Email", exact=True).fill(PURCHASER["email"])
    page.get_by_label("Phone (optional)").fill(PURCHASER["phone"])
    page.get_by_label("Company (for group bookings)").fill(PURCHASER["company_name"])
    page.get_by_label("Special requirements (optional)").fill("Amira uses a wheelchair.")
    # Leaving the last field fires the inline validation (change, 150 ms delay, swap of
    # the whole block): let it land, then check it kept everything and found no error.
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.request.headers.get("hx-request") == "true"
    ):
        page.get_by_role("heading", level=1).click()
    expect(page.locator("#booking-form-fields.htmx-request")).to_have_count(0)
    expect(page.locator(".htmx-settling, .htmx-swapping")).to_have_count(0)
    for n, (name, email) in enumerate(ATTENDEES, start=1):
        expect(page.get_by_label(f"Attendee {n}: full name")).to_have_value(name)
        expect(page.get_by_label(f"Attendee {n}: email")).to_have_value(email)
    expect(page.get_by_label("Company (for group bookings)")).to_have_value(
        PURCHASER["company_name"]
    )
    expect(page.locator(".field-error, #form-errors")).to_have_count(0)
    page.get_by_label("I accept the terms and the cancellation policy").check()
    shot(page, "booking-form-filled")

    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/bookings/[^/]+/$"))
    expect(page.get_by_role("heading", name="Pay for your booking")).to_be_visible()
    reference = page.locator("[data-reference]").inner_text().strip()
    assert reference and page.url.rstrip("/").endswith(reference)
    # payment.js mounts the Payment Element (the fake's double of it) once Stripe.js loaded.
    expect(page.get_by_label("Card number")).to_be_visible()
    expect(page.locator("#pay-button")).to_have_text("Pay £190.00")
    return reference


def fill_card(page: Page, number: str) -> None:
    """The fake's Payment Element double: labelled inputs inside #payment-element."""
    element = page.locator("#payment-element")
    for label, value in [("Card number", number), ("Expiry date (MM / YY)", "12 / 30"),
                         ("Security code", "123"), ("Postcode", "LS1 4AP")]:
        field = element.get_by_label(label)
        field.fill(value)
        expect(field).to_have_value(value)


def wait_until_booked(page: Page, reference: str) -> None:
    status = page.locator("#booking-status")
    expect(page.get_by_role("heading", name="You're booked!")).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    expect(status).to_have_attribute("data-status", "paid")
    expect(status).to_contain_text(reference)
    expect(status).to_contain_text("Paid £190.00 with Visa ending 4242")


def assert_paid_in_database(reference: str, course_session) -> Payment:
    booking = Booking.objects.select_related("purchaser").get(reference=reference)
    assert booking.status == Booking.Status.PAID
    assert booking.seats == 2
    assert booking.total_amount == 2 * 9500
    assert booking.company_name == PURCHASER["company_name"]
    assert booking.purchaser.email == PURCHASER["email"]
    assert sorted(booking.attendees.values_list("name", "email")) == sorted(ATTENDEES)
    course_session.refresh_from_db()
    assert course_session.seats_taken == 2

    succeeded = Payment.objects.filter(booking=booking, status=Payment.Status.SUCCEEDED)
    assert succeeded.count() == 1
    payment = succeeded.get()
    assert payment.card_last4 == "4242"
    assert payment.amount == 2 * 9500

    confirmations = sorted(
        Communication.objects.filter(
            booking=booking, kind=Communication.Kind.BOOKING_CONFIRMATION
        ).values_list("recipient", flat=True)
    )
    assert confirmations == sorted([PURCHASER["email"]] + [email for _, email in ATTENDEES])
    return payment


def assert_no_parked_webhooks():
    parked = list(
        StripeEvent.objects.filter(status=StripeEvent.Status.PARKED).values_list(
            "type", "last_error"
        )
    )
    assert not parked, f"webhooks parked: {parked}"


def test_customer_books_two_seats_and_pays_by_card(
    page, live_server, stripe_webhook, course_session, screenshot
):
    reference = book_two_seats(page, live_server, course_session, screenshot)
    assert Booking.objects.get(reference=reference).status == Booking.Status.PENDING
    course_session.refresh_from_db()
    assert course_session.seats_taken == 2  # held while the customer pays

    fill_card(page, GOOD_CARD)
    screenshot(page, "payment-card-filled")
    page.locator("#pay-button").click()
    wait_until_booked(page, reference)
    screenshot(page, "confirmation")

    payment = assert_paid_in_database(reference, course_session)
    wait_for_webhook("payment_intent.succeeded", payment)
    assert_no_parked_webhooks()
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_declined_card_shows_an_error_then_another_card_pays(
    page, live_server, stripe_webhook, course_session, screenshot
):
    reference = book_two_seats(page, live_server, course_session, screenshot)

    fill_card(page, DECLINED_CARD)
    screenshot(page, "payment-declined-card-filled")
    page.locator("#pay-button").click()

    message = page.locator("#payment-message")
    expect(message).to_be_visible(timeout=CONFIRMATION_TIMEOUT_MS)
    expect(message).to_contain_text(re.compile("declined", re.IGNORECASE))
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(page.locator("#pay-button")).to_have_text("Pay £190.00")
    screenshot(page, "payment-declined")

    booking = Booking.objects.get(reference=reference)
    assert booking.status == Booking.Status.PENDING
    failed = Payment.objects.get(booking=booking)
    assert failed.status == Payment.Status.FAILED
    course_session.refresh_from_db()
    assert course_session.seats_taken == 2  # still held for this booking
    # The fake's payment_failed webhook arrives a second later and changes nothing.
    wait_for_webhook("payment_intent.payment_failed", failed)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING
    assert not Communication.objects.filter(
        booking=booking, kind=Communication.Kind.BOOKING_CONFIRMATION
    ).exists()

    fill_card(page, GOOD_CARD)
    page.locator("#pay-button").click()
    wait_until_booked(page, reference)
    screenshot(page, "confirmation-after-decline")

    payment = assert_paid_in_database(reference, course_session)
    assert payment.attempt == failed.attempt + 1
    failed.refresh_from_db()
    assert failed.status == Payment.Status.FAILED
    wait_for_webhook("payment_intent.succeeded", payment)
    assert_no_parked_webhooks()
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_three_d_secure_asks_once_and_the_page_confirms_by_itself(
    page, live_server, stripe_webhook, course_session, screenshot
):
    reference = book_two_seats(page, live_server, course_session, screenshot)
    fill_card(page, THREE_D_SECURE_CARD)
    page.locator("#pay-button").click()

    challenge = page.get_by_role("dialog", name="3-D Secure test authentication")
    expect(challenge).to_be_visible(timeout=CONFIRMATION_TIMEOUT_MS)
    expect(page.locator("dialog")).to_have_count(1)  # one prompt, not one per step
    screenshot(page, "three-d-secure")
    challenge.get_by_role("button", name="Complete authentication").click()

    # No reload by hand: the page polls until the webhook has confirmed the booking.
    expect(page.get_by_role("heading", name="You're booked!")).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS)
    expect(page.locator("#booking-status")).to_contain_text("Paid £190.00 with Visa ending 3155")
    expect(page.locator("dialog")).to_have_count(0)
    screenshot(page, "confirmation-after-3ds")
    booking = Booking.objects.get(reference=reference)
    assert booking.status == Booking.Status.PAID
    payment = Payment.objects.get(booking=booking, status=Payment.Status.SUCCEEDED)
    wait_for_webhook("payment_intent.succeeded", payment)
    assert_no_parked_webhooks()
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_failed_three_d_secure_is_said_in_plain_words_and_nothing_is_taken(
    page, live_server, stripe_webhook, course_session, screenshot
):
    reference = book_two_seats(page, live_server, course_session, screenshot)
    fill_card(page, THREE_D_SECURE_CARD)
    page.locator("#pay-button").click()
    page.get_by_role("dialog").get_by_role("button", name="Fail authentication").click()

    message = page.locator("#payment-message")
    expect(message).to_contain_text("Your bank did not confirm this payment")
    expect(message).to_contain_text("No money was taken")
    expect(page.locator("#pay-button")).to_be_enabled()
    screenshot(page, "three-d-secure-failed")
    booking = Booking.objects.get(reference=reference)
    assert booking.status == Booking.Status.PENDING
    assert not Payment.objects.filter(booking=booking, status=Payment.Status.SUCCEEDED).exists()


def test_typing_at_human_speed_survives_inline_validation(page: Page, live_server,
                                                          course_session, screenshot):
    """Inline validation swaps the form after each change: what the customer types into
    the next field while that request runs must not be lost or scrambled."""
    page.goto(f"{live_server.url}/sessions/{course_session.pk}/book/")
    page.select_option("#id_seats", "2")
    page.wait_for_selector("#id_attendee_2_email")
    typed = {
        "#id_attendee_1_name": "Amira Khan",
        "#id_attendee_1_email": "amira.khan@acme-logistics.example",
        "#id_attendee_2_name": "Tom Baker",
        "#id_attendee_2_email": "tom.baker@acme-logistics.example",
        "#id_first_name": "Priya",
        "#id_email": "priya@acme-logistics.example",
    }
    for selector, text in typed.items():
        page.locator(selector).press_sequentially(text, delay=60)
        page.keyboard.press("Tab")  # leaving the field fires the validation request
    page.wait_for_timeout(600)  # let the last inline check come back
    screenshot(page, "typed-slowly")
    for selector, text in typed.items():
        expect(page.locator(selector)).to_have_value(text)
    # duplicate emails are still caught inline while preserving what was typed
    page.locator("#id_attendee_2_email").fill("amira.khan@acme-logistics.example")
    page.keyboard.press("Tab")
    expect(page.locator("text=already has this email")).to_be_visible()
