"""The trainer's day in a real browser, on a phone and a desktop: download the session's
attendance register (PDF) from admin, and mark attendance on the phone-friendly page.

Screenshots of every step go to test-artifacts/e2e/<viewport>/."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.bookings.models import Attendee
from apps.users.models import User
from apps.users.roles import ensure_role_groups
from apps.users.services import user_change_role, user_get_or_create
from tests.e2e.staff import make_staff_ready, sign_in_to_admin
from tests.e2e.test_staff_operations import (
    TRAINER_EMAIL,
    TRAINER_PASSWORD,
    admin_message,
    open_changelist,
    paid_booking,
)
from tests.factories import SessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_trainer_downloads_the_register_and_marks_attendance(page, live_server,
                                                               screenshot):
    ensure_role_groups()  # the migration made them; transactional tests flush them
    trainer = user_change_role(user=user_get_or_create(email=TRAINER_EMAIL),
                               role=User.Role.INSTRUCTOR, actor=None)
    make_staff_ready(trainer, password=TRAINER_PASSWORD)
    session = SessionFactory(trainer=trainer, course__title="Fire Marshal",
                             starts_at=timezone.now() - timedelta(hours=1))
    booking = paid_booking(session, "ivy@example.com", seats=2)
    came, absent = booking.attendees.order_by("pk")

    sign_in_to_admin(page, live_server, TRAINER_EMAIL, TRAINER_PASSWORD, screenshot)
    open_changelist(page, live_server, "coursesession")
    page.locator("#result_list tbody tr th a").first.click()
    screenshot(page, "session-page")

    with page.expect_download() as download:
        page.get_by_role("link", name="Attendance register (PDF)").click()
    pdf = download.value
    assert pdf.suggested_filename.startswith("register-") and \
        pdf.suggested_filename.endswith(".pdf")
    with open(pdf.path(), "rb") as file:
        assert file.read(4) == b"%PDF"

    page.get_by_role("link", name="Mark attendance (phone-friendly)").click()
    expect(page.locator(".attendance-row")).to_have_count(2)
    screenshot(page, "attendance-page")
    page.get_by_role("button", name=f"{came.name} attended").click()
    expect(admin_message(page)).to_have_text(f"{came.name}: attended.")
    page.get_by_role("button", name=f"{absent.name} did not come").click()
    expect(admin_message(page)).to_have_text(f"{absent.name}: no-show.")
    expect(page.locator(".attendance-attended")).to_have_count(1)
    screenshot(page, "attendance-marked")
    # Nothing on the page is wider than the screen (a phone scrolls down, never sideways).
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    came.refresh_from_db()
    absent.refresh_from_db()
    assert (came.attendance, absent.attendance) == (Attendee.Attendance.ATTENDED,
                                                    Attendee.Attendance.NO_SHOW)
    assert not page.errors, f"the browser reported errors: {page.errors}"
