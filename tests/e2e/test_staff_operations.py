"""Staff run the business from Django admin, in a real browser on a desktop and a phone:
sign in, find a booking and cancel it with a full refund, refund part of a payment, mark
a past session attended (certificates issued), and an instructor sees only the sessions
they teach.

Screenshots of every step go to test-artifacts/e2e/<viewport>/."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.bookings.models import Booking
from apps.certificates.models import Certificate
from apps.payments.models import Payment
from apps.payments.services import payment_record_manual
from apps.refunds.models import Refund
from apps.users.models import User
from apps.users.roles import ensure_role_groups
from apps.users.services import user_change_role, user_get_or_create
from tests.e2e.staff import make_staff_ready, sign_in_to_admin
from tests.factories import SessionFactory, make_booking

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL, ADMIN_PASSWORD = "ops@example.com", "correct-horse-battery"
ADMIN_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # pragma: allowlist secret
TRAINER_EMAIL, TRAINER_PASSWORD = "sam.patel@example.com", "trainer-staple-42"


@pytest.fixture
def admin_user():
    return make_staff_ready(User.objects.create_superuser(ADMIN_EMAIL),
                            password=ADMIN_PASSWORD, totp_secret=ADMIN_TOTP_SECRET)


def sign_in_as_admin(page: Page, live_server, shot) -> None:
    sign_in_to_admin(page, live_server, ADMIN_EMAIL, ADMIN_PASSWORD, shot,
                     totp_secret=ADMIN_TOTP_SECRET)


def paid_booking(session, email: str, seats: int = 1) -> Booking:
    booking = make_booking(session, email=email, seats=seats,
                           now=min(timezone.now(), session.starts_at - timedelta(days=7)))
    payment_record_manual(booking=booking, actor=None)  # by invoice: refunds complete at once
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID
    return booking


def open_changelist(page: Page, live_server, model: str) -> None:
    """From the admin index, by the model's link in the app list, as a person would."""
    page.goto(live_server.url + "/admin/")
    page.locator(f"#content-main tr.model-{model} th a").click()
    expect(page.locator("#changelist")).to_be_visible()


def run_action(page: Page, row_text: str, action: str) -> None:
    """Tick the row that shows row_text, choose the action, Go."""
    row = page.locator("#result_list tbody tr", has_text=row_text)
    expect(row).to_have_count(1)
    row.locator("input[name='_selected_action']").check()
    page.locator("select[name='action']").select_option(label=action)
    page.locator("button[name='index']").click()


def admin_message(page: Page):
    """The message admin shows after an action (one, at the top of the page)."""
    return page.locator("ul.messagelist li")


def test_staff_find_a_booking_and_cancel_it_with_a_full_refund(
        page, live_server, admin_user, screenshot):
    session = SessionFactory(price=9500, capacity=10,
                             starts_at=timezone.now() + timedelta(days=30))
    booking = paid_booking(session, "dana@example.com", seats=2)
    other = paid_booking(session, "eli@example.com")
    sign_in_as_admin(page, live_server, screenshot)
    screenshot(page, "admin-index")

    open_changelist(page, live_server, "booking")
    page.locator("#searchbar").fill(booking.reference)
    page.locator("#searchbar").press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    screenshot(page, "booking-found")
    run_action(page, booking.reference, "Cancel and refund in full")
    expect(admin_message(page)).to_have_text("1 booking cancelled; £190.00 refunded.")
    screenshot(page, "cancelled")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    refund = Refund.objects.get(payment__booking=booking)
    assert (refund.amount, refund.status) == (19000, Refund.Status.SUCCEEDED)
    assert refund.initiator == Refund.Initiator.STAFF
    session.refresh_from_db()
    assert session.seats_taken == 1  # the two seats are free again; the other booking stays
    assert Booking.objects.get(pk=other.pk).status == Booking.Status.PAID
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_staff_refund_part_of_a_payment_from_the_booking_with_a_confirmation_step(
        page, live_server, admin_user, screenshot):
    """The booking is the hub: find it, see its money, refund part of it; the refund is
    made only after a page that says what will happen, and more than is left is refused."""
    booking = paid_booking(SessionFactory(price=9500), "fay@example.com")
    payment = Payment.objects.get(booking=booking)
    sign_in_as_admin(page, live_server, screenshot)

    open_changelist(page, live_server, "booking")
    page.locator("#searchbar").fill(booking.reference)
    page.locator("#searchbar").press("Enter")
    page.locator("#result_list tbody tr th a").first.click()
    expect(page).to_have_url(re.compile(rf"/admin/bookings/booking/{booking.pk}/change/"))
    expect(page.locator("#hub-money")).to_be_visible()
    expect(page.locator(".hub-payment")).to_contain_text("£95.00")
    screenshot(page, "booking-hub")
    page.get_by_role("link", name="Refund…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(  # one h1, not two
        f"Refund {booking.reference}")
    expect(page.get_by_text("Still refundable: £95.00")).to_be_visible()
    page.get_by_label("Amount to refund").fill("40")
    page.get_by_label("Reason (the customer sees it)").fill("Lunch was not provided.")
    screenshot(page, "partial-refund-form")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".hub-consequence")).to_contain_text(
        "Refund £40.00 to the account that paid the invoice; the booking stays paid")
    assert not Refund.objects.exists()  # nothing happens before the confirmation
    screenshot(page, "partial-refund-confirm")
    page.get_by_role("button", name="Yes, refund").click()
    expect(admin_message(page)).to_have_text(
        "£40.00 refunded: the money is on its way back to the customer.")
    expect(page.locator(".hub-refund")).to_contain_text("−£40.00")
    screenshot(page, "partial-refund-done")

    # More than what is left: a clear error on the form, nothing refunded.
    page.get_by_role("link", name="Refund…").click()
    expect(page.get_by_text("Still refundable: £55.00")).to_be_visible()
    page.get_by_label("Amount to refund").fill("60.00")
    page.get_by_label("Reason (the customer sees it)").fill("Too much.")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".errorlist")).to_contain_text(
        "At most £55.00 can still be refunded on this payment.")
    expect(page.get_by_label("Amount to refund")).to_have_value("60.00")
    screenshot(page, "over-refund-refused")

    assert list(Refund.objects.filter(payment=payment).values_list("amount", "status")) == [
        (4000, Refund.Status.SUCCEEDED)]
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID  # a partial refund keeps the booking
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_staff_mark_a_past_session_attended_and_certificates_are_issued(
        page, live_server, admin_user, screenshot):
    past = SessionFactory(course__title="Manual Handling", course__validity_months=36,
                          starts_at=timezone.now() - timedelta(days=1))
    booking = paid_booking(past, "gil@example.com", seats=2)
    unpaid = make_booking(past, email="hal@example.com",
                          now=past.starts_at - timedelta(minutes=5))
    sign_in_as_admin(page, live_server, screenshot)

    open_changelist(page, live_server, "coursesession")
    run_action(page, "Manual Handling",
               "Mark every paid attendee attended (issues certificates)")
    expect(admin_message(page)).to_have_text(
        "2 attendees marked attended; their certificates are being issued and emailed.",
        timeout=30_000)  # two PDFs are made inside the request (tasks run eagerly here)
    screenshot(page, "attended")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED
    holders = set(Certificate.objects.values_list("attendee__email", flat=True))
    assert holders == set(booking.attendees.values_list("email", flat=True))
    assert not Certificate.objects.filter(attendee__booking=unpaid).exists()

    # The certificates are in admin for staff to see.
    page.goto(live_server.url + "/admin/certificates/certificate/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    screenshot(page, "certificates")
    assert not page.errors, f"the browser reported errors: {page.errors}"


def test_an_instructor_sees_only_the_sessions_they_teach(page, live_server, screenshot):
    ensure_role_groups()  # the migration made them; transactional tests flush them
    trainer = user_change_role(user=user_get_or_create(email=TRAINER_EMAIL),
                               role=User.Role.INSTRUCTOR, actor=None)
    make_staff_ready(trainer, password=TRAINER_PASSWORD)  # a second factor is optional
    mine = SessionFactory(trainer=trainer, course__title="Fire Marshal")
    theirs = SessionFactory(course__title="Forklift Refresher")
    paid_booking(mine, "ivy@example.com")
    paid_booking(theirs, "jon@example.com")

    sign_in_to_admin(page, live_server, TRAINER_EMAIL, TRAINER_PASSWORD, screenshot)
    expect(page.locator("#content-main tr.model-payment")).to_have_count(0)
    expect(page.locator("#content-main tr.model-booking")).to_have_count(0)
    expect(page.locator("#content-main tr.model-coursesession")).to_have_count(1)
    screenshot(page, "instructor-index")

    open_changelist(page, live_server, "coursesession")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Fire Marshal")
    screenshot(page, "instructor-sessions")

    open_changelist(page, live_server, "attendee")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("ivy@example.com")
    expect(page.locator("#result_list")).not_to_contain_text("jon@example.com")
    screenshot(page, "instructor-attendees")

    # Someone else's session, by its address: not there for them.
    page.goto(live_server.url + f"/admin/course_sessions/coursesession/{theirs.pk}/change/")
    expect(admin_message(page)).to_contain_text("doesn’t exist")
    expect(page.locator("body")).not_to_contain_text("Forklift Refresher")
    screenshot(page, "someone-elses-session")
