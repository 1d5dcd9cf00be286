"""Issue #26, items 9-10: erasing an account cancels its upcoming bookings with the refunds
the policy gives (shown first on the delete page), keeps certificates verifiable, and
removes staff notes and free-text refund reasons about the person."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.certificates.models import Certificate
from apps.payments.services import payment_record_manual
from apps.refunds.models import Refund
from apps.sessions.models import CourseSession
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def erasable(django_capture_on_commit_callbacks):
    """A customer with a paid booking in 30 days (full refund), a paid one in 10 days (half),
    an unpaid hold, and a certificate from a course last year."""
    now = timezone.now()
    far = make_booking(SessionFactory(price=9500, starts_at=now + timedelta(days=30)),
                       email="erin@example.com", seats=2)
    near = make_booking(SessionFactory(price=8000, starts_at=now + timedelta(days=10)),
                        email="erin@example.com")
    pending = make_booking(SessionFactory(price=5000, starts_at=now + timedelta(days=40)),
                           email="erin@example.com")
    for booking in (far, near):
        payment_record_manual(booking=booking, actor=None)
    past = SessionFactory(starts_at=now - timedelta(days=300))
    attendee = Attendee.objects.filter(booking=far).first()
    certificate = Certificate.objects.create(
        attendee=attendee, user=far.purchaser, course=past.course, session=past,
        holder_name="Erin Example", issued_on=date.today() - timedelta(days=299),
        number="CERT-ERASE01")
    return {"user": far.purchaser, "far": far, "near": near, "pending": pending,
            "certificate": certificate}


def test_the_delete_page_lists_upcoming_bookings_with_their_refunds_and_the_certificates(
        client, erasable):
    client.force_login(erasable["user"])
    page = client.get("/portal/delete/").content.decode()
    assert erasable["far"].reference in page and "£190.00" in page  # 100% of 2 × £95
    assert erasable["near"].reference in page and "£40.00" in page  # 50% of £80
    assert erasable["pending"].reference in page
    assert "certificates stay verifiable" in page.lower()
    assert "Erin Example" in page


def test_erasure_cancels_upcoming_bookings_with_the_policy_refunds(
        client, erasable, django_capture_on_commit_callbacks):
    user = erasable["user"]
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/delete/", {"confirm": "DELETE"})
    assert response.status_code == 302
    for key in ("far", "near", "pending"):
        booking = Booking.objects.get(pk=erasable[key].pk)
        assert booking.status == Booking.Status.CANCELLED, key
        session = CourseSession.objects.get(pk=booking.session_id)
        assert session.seats_taken == 0, key  # the seats are free for others
    refunds = {r.payment.booking_id: r.amount for r in Refund.objects.select_related("payment")}
    assert refunds == {erasable["far"].pk: 19000, erasable["near"].pk: 4000}
    user.refresh_from_db()
    assert user.anonymised_at is not None and not user.is_active
    # Others rely on certificates: still verifiable under the holder's name.
    certificate = Certificate.objects.get(pk=erasable["certificate"].pk)
    assert certificate.holder_name == "Erin Example" and certificate.revoked_at is None
    assert client.get(f"/certificates/verify/{certificate.verification_code}/").status_code \
        == 200


def test_nothing_is_cancelled_without_the_confirmation(client, erasable):
    client.force_login(erasable["user"])
    client.post("/portal/delete/", {"confirm": "nope"})
    assert Booking.objects.get(pk=erasable["far"].pk).status == Booking.Status.PAID


def test_erasure_removes_staff_notes_and_free_text_reasons_about_the_person(
        client, admin_client, erasable, django_capture_on_commit_callbacks):
    from apps.operations.erasure import user_anonymise
    from apps.refunds.services import refund_create
    from apps.users.models import ActivityLog, UserNote

    user = erasable["user"]
    UserNote.objects.create(user=user, text="Told us about her back surgery in March.")
    payment = erasable["far"].payments.get()
    refund_create(payment=payment, amount=500, initiator="staff",
                  reason="Goodwill: missed day one after her mother's funeral")
    assert ActivityLog.objects.filter(user=user, data__reason__icontains="funeral").exists()

    with django_capture_on_commit_callbacks(execute=True):
        user_anonymise(user=user)

    assert not UserNote.objects.filter(user=user).exists()
    page = admin_client.get(f"/admin/users/user/{user.pk}/change/").content.decode()
    assert "back surgery" not in page and "funeral" not in page
    api = admin_client.get(f"/api/admin/users/{user.pk}").content.decode()
    assert "back surgery" not in api
    activity = admin_client.get(f"/api/admin/users/{user.pk}").json()["activity"]
    assert "funeral" not in str(activity)
    assert not ActivityLog.objects.filter(data__reason__icontains="funeral").exists()
    # The money stays: the refund is a ledger row, never rewritten (its own reason field
    # included: the activity log held the copies).
    assert payment.refunds.get().amount == 500
