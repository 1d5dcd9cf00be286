import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.bookings.models import Booking
from apps.payments.services import payment_record_manual
from apps.refunds.models import Refund
from apps.refunds.policy import cancellation_quote
from apps.refunds.services import refund_create
from apps.sessions.models import CourseSession
from apps.users.models import User
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def group_booking():
    """Pat buys two seats: one for Pat, one for Sam (an attendee with their own login)."""
    booking = make_booking(SessionFactory(price=5000), email="pat@example.com", seats=2)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    return booking


def portal_urls(reference):
    return [f"/portal/bookings/{reference}/", f"/portal/bookings/{reference}/cancel/",
            f"/portal/bookings/{reference}/receipt/",
            f"/portal/bookings/{reference}/receipt.pdf"]


def test_anonymous_visitors_are_sent_to_sign_in(client, group_booking):
    for url in ["/portal/", "/portal/profile/", "/portal/data.json", "/portal/delete/",
                *portal_urls(group_booking.reference)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/code/"), url


def test_another_customer_gets_404_for_every_booking_url(client, group_booking):
    client.force_login(User.objects.create_user(email="nosy@example.com"))
    for url in portal_urls(group_booking.reference):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/portal/bookings/{group_booking.reference}/cancel/").status_code == 404
    group_booking.refresh_from_db()
    assert group_booking.status == "paid"
    assert group_booking.reference not in client.get("/portal/").content.decode()


def test_the_purchaser_sees_everything(client, group_booking):
    client.force_login(group_booking.purchaser)
    home = client.get("/portal/").content.decode()
    assert group_booking.reference in home and "£100.00" in home
    page = client.get(f"/portal/bookings/{group_booking.reference}/").content.decode()
    for attendee in group_booking.attendees.all():
        assert attendee.email in page
    assert "Invoice / bank transfer" in page and "Download receipt" in page
    assert client.get(f"/portal/bookings/{group_booking.reference}/receipt/").status_code == 200


def test_an_attendee_sees_only_their_own_seat(client, group_booking):
    guest = group_booking.attendees.exclude(user=group_booking.purchaser).get()
    client.force_login(guest.user)
    page = client.get(f"/portal/bookings/{group_booking.reference}/").content.decode()
    assert guest.email in page
    assert '<span class="muted">pat@example.com</span>' not in page  # the purchaser's seat
    assert "£100.00" not in page and "<h2>Payments</h2>" not in page
    assert client.get(f"/portal/bookings/{group_booking.reference}/receipt/").status_code == 404
    assert client.post(f"/portal/bookings/{group_booking.reference}/cancel/").status_code == 404


@pytest.mark.parametrize(("before", "percent"), [
    (timedelta(days=30), 100),
    (timedelta(days=14), 100),
    (timedelta(days=14) - timedelta(seconds=1), 50),
    (timedelta(days=13, hours=23), 50),
    (timedelta(days=7), 50),
    (timedelta(days=6, hours=23, minutes=59), 0),
    (timedelta(hours=1), 0),
])
def test_cancellation_policy_boundaries(before, percent):
    now = timezone.now()
    session = SessionFactory(starts_at=now + before)
    booking = make_booking(session, now=now - timedelta(days=40) if before > timedelta(days=40)
                           else None)
    quote = cancellation_quote(booking=booking, paid=10000, now=now)
    assert quote.percent == percent
    assert quote.amount == 100 * percent


def test_customer_cancels_and_sees_what_they_get_back_first(client, group_booking):
    client.force_login(group_booking.purchaser)
    preview = client.get(f"/portal/bookings/{group_booking.reference}/cancel/").content.decode()
    # the session is 10 days away: the policy refunds 50%
    assert "You will get back" in preview and "£50.00" in preview
    assert 'name="confirmed_amount" value="5000"' in preview
    response = client.post(f"/portal/bookings/{group_booking.reference}/cancel/",
                           {"confirmed_amount": "5000"}, follow=True)
    group_booking.refresh_from_db()
    assert group_booking.status in ("cancelled",)
    assert "is cancelled" in response.content.decode()
    refund = group_booking.payments.get().refunds.get()
    assert refund.initiator == "customer"


def test_a_course_that_starts_between_the_quote_and_the_confirmation_is_not_cancelled(
        client, group_booking):
    """The refund is decided under the booking lock when the customer confirms, not from
    what the page showed: a course that has started by then is not cancelled or refunded."""
    client.force_login(group_booking.purchaser)
    url = f"/portal/bookings/{group_booking.reference}/cancel/"
    preview = client.get(url).content.decode()
    assert 'name="confirmed_amount" value="5000"' in preview
    CourseSession.objects.filter(pk=group_booking.session_id).update(
        starts_at=timezone.now() - timedelta(minutes=1))
    response = client.post(url, {"confirmed_amount": "5000"}, follow=True)
    assert response.redirect_chain == [(f"/portal/bookings/{group_booking.reference}/", 302)]
    assert "The course has started: it can no longer be cancelled." in \
        response.content.decode()
    group_booking.refresh_from_db()
    assert group_booking.status == Booking.Status.PAID
    assert not Refund.objects.filter(payment__booking=group_booking).exists()
    assert group_booking.payments.get().amount == 10000


def test_cancel_requires_post_and_csrf(group_booking):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(group_booking.purchaser)
    assert strict.post(f"/portal/bookings/{group_booking.reference}/cancel/").status_code == 403
    group_booking.refresh_from_db()
    assert group_booking.status == "paid"


def test_data_export_has_mine_and_nothing_of_others(client, group_booking):
    other = make_booking(SessionFactory(), email="other@example.com")
    client.force_login(group_booking.purchaser)
    response = client.get("/portal/data.json")
    data = json.loads(response.content)
    assert response["Content-Disposition"].endswith('my-data.json"')
    assert data["profile"]["email"] == "pat@example.com"
    assert [b["reference"] for b in data["bookings"]] == [group_booking.reference]
    assert data["bookings"][0]["payments"][0]["amount"] == 10000
    assert other.reference not in response.content.decode()
    assert "other@example.com" not in response.content.decode()


def test_account_deletion_anonymises_and_keeps_the_money(client, group_booking):
    refund_create(payment=group_booking.payments.get(), amount=1000, initiator="staff")
    purchaser = group_booking.purchaser
    client.force_login(purchaser)
    response = client.post("/portal/delete/", {"confirm": "DELETE"})
    assert response.status_code == 302
    purchaser.refresh_from_db()
    assert purchaser.email.endswith("@deleted.invalid") and not purchaser.is_active
    assert purchaser.first_name == "" and purchaser.anonymised_at
    booking = Booking.objects.get(pk=group_booking.pk)
    assert booking.total_amount == 10000
    payment = booking.payments.get()
    # The staff refund stays; the upcoming booking was cancelled with the policy's refund
    # of what was left (tests/bookings/test_erasure.py).
    assert payment.amount == 10000
    assert payment.refunds.order_by("pk").first().amount == 1000
    assert booking.status == Booking.Status.CANCELLED
    assert not booking.attendees.filter(email="pat@example.com").exists()
    assert client.get("/portal/").status_code == 302  # signed out


def test_profile_can_be_updated(client, group_booking):
    client.force_login(group_booking.purchaser)
    client.post("/portal/profile/", {"first_name": "Patricia", "last_name": "Jones",
                                     "phone": "0123", "company_name": "Jones Ltd",
                                     "marketing_consent": "on"})
    user = User.objects.get(pk=group_booking.purchaser_id)
    assert (user.first_name, user.company_name, user.marketing_consent) == (
        "Patricia", "Jones Ltd", True)


def test_book_again_prefills_the_same_attendees(client, group_booking):
    client.force_login(group_booking.purchaser)
    upcoming = SessionFactory(course=group_booking.session.course)
    html = client.get(f"/sessions/{upcoming.pk}/book/?from={group_booking.reference}") \
        .content.decode()
    for attendee in group_booking.attendees.all():
        assert f'value="{attendee.email}"' in html


@pytest.mark.django_db(transaction=True)  # allauth emails are sent on commit
def test_sign_in_by_emailed_code(client, group_booking):
    response = client.post("/accounts/login/code/", {"email": "PAT@example.com"})
    assert response.status_code == 302
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.M).group(1)
    wrong = client.post(response["Location"], {"code": "AAAAAA"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    ok = client.post(response["Location"], {"code": code})
    assert ok.status_code == 302
    assert client.get("/portal/").status_code == 200


@pytest.mark.django_db(transaction=True)  # allauth emails are sent on commit
def test_code_requests_are_rate_limited(db):
    from django.test import Client

    User.objects.create_user(email="limited@example.com")
    answers = [Client().post("/accounts/login/code/", {"email": "limited@example.com"})
               for _ in range(5)]
    assert [a.status_code for a in answers] == [302, 302, 302, 200, 200]
    assert "Too many" in answers[-1].content.decode()
    assert len(mail.outbox) == 3


def test_asking_for_a_code_does_not_reveal_whether_an_email_is_a_customer(client, group_booking):
    from django.test import Client

    known = Client().post("/accounts/login/code/", {"email": "pat@example.com"})
    unknown = Client().post("/accounts/login/code/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


@pytest.mark.django_db(transaction=True)  # allauth emails are sent on commit
def test_changing_email_takes_effect_only_after_the_new_address_is_verified(client,
                                                                           group_booking):
    from allauth.account.models import EmailAddress

    purchaser = group_booking.purchaser
    # signing in by code verified the address (force_login skips that step)
    EmailAddress.objects.filter(user=purchaser).update(verified=True)
    client.force_login(purchaser)
    response = client.post("/accounts/email/", {"action_add": "", "email": "new@example.com"})
    assert response.status_code in (200, 302)
    purchaser.refresh_from_db()
    assert purchaser.email == "pat@example.com"
    assert any("new@example.com" in m.to for m in mail.outbox)
    link = re.search(r"(/accounts/confirm-email/[^\s]+)", mail.outbox[-1].body).group(1)
    client.post(link)
    purchaser.refresh_from_db()
    assert purchaser.email == "new@example.com"
