"""Staff operations that tell the truth (#25 items 2, 3, 4, 7, 8): messages about money
from the ledger, attendance that says what it marked and refused, capacity edits that
answer with a form error, session cancels that report only what this run changed."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.services import attendance_mark
from apps.certificates.models import Certificate
from apps.certificates.services import certificates_issue_for_booking
from apps.core.errors import ConflictError
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.refunds.cancellation import session_cancel
from apps.refunds.models import Refund
from apps.refunds.services import refund_mark_failed, refund_mark_succeeded
from apps.sessions.models import CourseSession
from apps.users.models import User
from tests.bookings.notify_helpers import admin_edit_data, book, pay
from tests.factories import SessionFactory, make_booking


def _past_session():
    starts = timezone.now() - timedelta(hours=8)
    return SessionFactory(starts_at=starts, ends_at=starts + timedelta(hours=6))


def _paid_in_the_past(session, email, seats=1):
    """A booking made before the session started, paid by invoice."""
    from apps.payments.services import payment_record_manual

    booking = make_booking(session, email=email, seats=seats,
                           now=session.starts_at - timedelta(days=2))
    payment_record_manual(booking=booking, actor=None)
    return booking


@pytest.mark.django_db
def test_the_session_cancel_message_says_what_the_ledger_says_and_offers_a_retry(
        admin_client, django_capture_on_commit_callbacks):
    """#25.2: two £95 refunds, Stripe refuses one: staff read "£95.00 refunded, £95.00
    failed", and retry the failed one from the sessions list."""
    session = SessionFactory(price=9500)
    with django_capture_on_commit_callbacks(execute=False):
        first = pay(book(session, purchaser_attends=True), method=Payment.Method.CARD)
        second = pay(book(session, purchaser=("Ann Lee", "ann@example.com"),
                          purchaser_attends=True), method=Payment.Method.CARD)

    def stripe_answers(refund):
        # What submit_refund_task would learn from Stripe right after the commit.
        if refund.payment.booking_id == first.pk:
            refund_mark_succeeded(refund_id=refund.pk)
        else:
            refund_mark_failed(refund_id=refund.pk, reason="Stripe refused: card closed")

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        response = admin_client.post("/admin/course_sessions/coursesession/", {
            "action": "cancel_sessions", "_selected_action": [session.pk]}, follow=True)
    text = response.content.decode()
    # Stripe has not answered yet when the page is drawn: the ledger says pending.
    assert "this run cancelled 2 bookings. Refunds: £190.00 pending at Stripe (on its " \
           "way)." in text
    assert "£190.00 refunded" not in text

    assert len(after_commit) >= 2  # the refund submissions, queued after commit
    for refund in Refund.objects.all():  # what Stripe then answers
        stripe_answers(refund)
    ledger = dict(Refund.objects.values_list("payment__booking_id", "status"))
    assert ledger == {first.pk: "succeeded", second.pk: "failed"}

    # Afterwards, the session's page shows the same, from the ledger.
    page = admin_client.get(f"/admin/course_sessions/coursesession/{session.pk}/change/")
    assert "£95.00 refunded, £95.00 failed" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post("/admin/course_sessions/coursesession/", {
            "action": "retry_failed_refunds", "_selected_action": [session.pk]}, follow=True)
    assert "1 failed refund sent again" in response.content.decode()
    retry = Refund.objects.get(payment__booking=second, status="pending")
    assert retry.amount == 9500
    # Running the retry again sends nothing more: the pending retry covers it.
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post("/admin/course_sessions/coursesession/", {
            "action": "retry_failed_refunds", "_selected_action": [session.pk]}, follow=True)
    assert "0 failed refunds sent again" in response.content.decode()
    assert Refund.objects.filter(payment__booking=second).count() == 2


@pytest.mark.django_db
def test_no_show_is_refused_for_someone_whose_certificate_was_issued(
        django_capture_on_commit_callbacks):
    """#25.3, decided: refuse, naming the certificate to revoke first."""
    session = _past_session()
    booking = _paid_in_the_past(session, "came@example.com", seats=2)
    came, other = booking.attendees.all()
    with django_capture_on_commit_callbacks(execute=False):
        attendance_mark(attendee_ids=[came.pk, other.pk], attendance="attended")
    certificates_issue_for_booking(booking_id=booking.pk)
    assert Certificate.objects.count() == 2
    with pytest.raises(ConflictError, match="has a valid certificate; revoke it first"):
        attendance_mark(attendee_ids=[came.pk], attendance="no_show")
    came.refresh_from_db()
    assert came.attendance == "attended"
    assert Certificate.objects.filter(revoked_at__isnull=True).count() == 2

    certificate = Certificate.objects.get(attendee=came)
    from apps.certificates.services import certificate_revoke
    certificate_revoke(certificate=certificate, reason="Left after ten minutes")
    result = attendance_mark(attendee_ids=[came.pk], attendance="no_show")
    assert result.changed == 1


@pytest.mark.django_db
def test_bulk_mark_attended_says_exactly_what_it_marked_and_refused(
        admin_client, django_capture_on_commit_callbacks):
    """#25.7: a past and a future session selected together."""
    past = _past_session()
    done = _paid_in_the_past(past, "past@example.com", seats=2)
    future = SessionFactory()
    upcoming = pay(book(future, purchaser_attends=True))
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post("/admin/course_sessions/coursesession/", {
            "action": "mark_everyone_attended",
            "_selected_action": [past.pk, future.pk]}, follow=True)
    text = response.content.decode()
    assert f"2 attendees marked attended ({done.reference}: 2); their certificates are " \
           "being issued and emailed." in text
    assert f"Not marked: {upcoming.reference}: attendance can be marked once the session " \
           "has started." in text
    assert Booking.objects.get(pk=done.pk).status == "completed"
    assert Booking.objects.get(pk=upcoming.pk).status == "paid"
    assert set(upcoming.attendees.values_list("attendance", flat=True)) == {"unknown"}


@pytest.mark.django_db
def test_capacity_below_the_seats_taken_is_a_form_error(admin_client):
    """#25.4: not a 500."""
    session = SessionFactory(capacity=10)
    make_booking(session, email="a@example.com", seats=4)
    url, data = admin_edit_data(admin_client, session, capacity=3)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "4 seats are already taken: the capacity cannot be less than 4." in \
        response.content.decode()
    assert CourseSession.objects.get(pk=session.pk).capacity == 10


def _run(threads):
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


@pytest.mark.django_db(transaction=True)
def test_a_capacity_cut_racing_a_booking_in_flight_is_a_form_error():
    """#25.4 under concurrency (PostgreSQL): the admin loaded the page with 2 seats taken
    and saves capacity 3 while a 2-seat booking is committing: the save waits for it and
    answers with a form error instead of the constraint's 500."""
    assert connection.vendor == "postgresql"
    session = SessionFactory(capacity=10)
    make_booking(session, email="first@example.com", seats=2)
    password = "pw-For-tests-1"  # pragma: allowlist secret
    User.objects.create_superuser(email="boss@example.com", password=password)
    staff = Client()
    staff.force_login(User.objects.get(email="boss@example.com"))
    url, data = admin_edit_data(staff, session, capacity=3)
    seats_taken = threading.Event()
    answers = {}

    def booking_in_flight():
        try:
            with transaction.atomic():
                make_booking(session, email="second@example.com", seats=2)
                seats_taken.set()
                time.sleep(1.0)  # the seat UPDATE holds the row while the admin saves
        finally:
            connection.close()

    def admin_saves():
        try:
            seats_taken.wait(10)
            answers["response"] = staff.post(url, data)
        finally:
            connection.close()

    _run([threading.Thread(target=booking_in_flight), threading.Thread(target=admin_saves)])
    response = answers["response"]
    assert response.status_code == 200
    assert "4 seats are already taken" in response.content.decode()
    session.refresh_from_db()
    assert (session.capacity, session.seats_taken) == (10, 4)


@pytest.mark.django_db(transaction=True)
def test_two_staff_cancelling_one_session_each_report_only_their_own_work():
    """#25.8: together they report every booking exactly once; each person is told once."""
    assert connection.vendor == "postgresql"
    session = SessionFactory(capacity=30, price=0)
    bookings = [make_booking(session, email=f"p{n}@example.com", seats=2) for n in range(8)]
    barrier = threading.Barrier(2)
    reports = []

    def cancel():
        try:
            barrier.wait()
            reports.append(session_cancel(session_id=session.pk, reason="Trainer ill"))
        finally:
            connection.close()

    _run([threading.Thread(target=cancel), threading.Thread(target=cancel)])
    assert len(reports) == 2
    assert reports[0]["bookings"] + reports[1]["bookings"] == len(bookings)
    reported = reports[0]["booking_ids"] + reports[1]["booking_ids"]
    assert sorted(reported) == sorted(b.pk for b in bookings)
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 0
    told = list(Communication.objects.filter(kind="session_cancelled")
                .values_list("recipient", flat=True))
    assert sorted(told) == sorted({a.email for b in bookings for a in b.attendees.all()})
