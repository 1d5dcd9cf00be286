"""The balance owed after a move to a dearer date, as the purchaser sees and pays it
(/bookings/<reference>/balance/), and as staff ask for it from the booking hub."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.bookings.access import booking_link
from apps.bookings.notifications import balance_payment_link
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.payments.selectors import booking_balance_due
from apps.refunds.changes import booking_transfer
from apps.users.models import User
from tests.factories import SessionFactory
from tests.payments.helpers import card_token
from tests.refunds.test_changes import paid_by_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def owing():
    """Three seats at £50 paid by invoice, moved to the £60 date: £30 owed."""
    first = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(days=20))
    dearer = SessionFactory(course=first.course, price=6000,
                            starts_at=timezone.now() + timedelta(days=30))
    booking = paid_by_invoice(first, seats=3)
    booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=None,
                     initiator="staff")
    booking.refresh_from_db()
    return booking


def local(url: str) -> str:
    return url.replace(settings.SITE_URL, "")


def test_the_purchasers_booking_page_shows_what_is_owed_with_a_pay_button(client, owing):
    client.force_login(owing.purchaser)
    page = client.get(f"/portal/bookings/{owing.reference}/").content.decode()
    assert "£30.00 still to pay" in page and "Pay £30.00" in page
    assert f"/bookings/{owing.reference}/balance/?key=" in page


def test_the_emailed_link_shows_the_purchaser_the_balance_but_not_an_attendee(client, owing):
    page = client.get(local(booking_link(booking=owing, email=owing.purchaser.email)))
    assert "£30.00 still to pay" in page.content.decode()
    guest = owing.attendees.exclude(email=owing.purchaser.email).first()
    page = client.get(local(booking_link(booking=owing, email=guest.email))).content.decode()
    assert "still to pay" not in page and "/balance/" not in page


def test_the_balance_page_offers_the_card_form_for_the_amount_owed(client, owing):
    page = client.get(local(balance_payment_link(owing)))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Pay the balance" in text and 'data-amount="3000"' in text
    assert f'data-pay-url="/bookings/{owing.reference}/balance/pay/"' in text


def test_another_customer_gets_404_on_the_balance_page_and_its_payment(client, owing):
    stranger = User.objects.create_user(email="stranger@example.com")
    client.force_login(stranger)
    assert client.get(f"/bookings/{owing.reference}/balance/").status_code == 404
    response = client.post(f"/bookings/{owing.reference}/balance/pay/",
                           {"confirmation_token": "ctoken_x"})
    assert response.status_code == 404
    assert not Payment.objects.filter(booking=owing, purpose=Payment.Purpose.BALANCE).exists()
    client.logout()
    assert client.get(f"/bookings/{owing.reference}/balance/").status_code == 404
    tampered = local(balance_payment_link(owing))[:-3] + "abc"
    assert client.get(tampered).status_code == 404


def test_the_purchaser_pays_the_balance_and_the_page_says_nothing_is_owed(
        client, owing, fake_stripe, django_capture_on_commit_callbacks):
    client.force_login(owing.purchaser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/bookings/{owing.reference}/balance/pay/",
                               {"confirmation_token": card_token("4242424242424242")})
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert booking_balance_due(booking=owing) == 0
    page = client.get(f"/bookings/{owing.reference}/balance/").content.decode()
    assert "Nothing more to pay" in page and "paid in full" in page
    portal = client.get(f"/portal/bookings/{owing.reference}/").content.decode()
    assert "still to pay" not in portal
    receipt = Communication.objects.get(booking=owing, kind=Communication.Kind.PAYMENT_RECEIVED)
    link = next(word for word in receipt.body.split() if "/portal/b/" in word)
    client.logout()
    assert "Paid" in client.get(local(link)).content.decode()  # opens for its recipient
    client.force_login(owing.purchaser)
    again = client.post(f"/bookings/{owing.reference}/balance/pay/",
                        {"confirmation_token": card_token("4242424242424242")})
    assert again.status_code == 409
    assert "Nothing is owed" in again.json()["error"]["message"]


def test_the_transfer_email_says_what_is_owed_and_links_to_pay_it(
        client, django_capture_on_commit_callbacks):
    first = SessionFactory(price=5000, starts_at=timezone.now() + timedelta(days=20))
    dearer = SessionFactory(course=first.course, price=6000,
                            starts_at=timezone.now() + timedelta(days=30))
    booking = paid_by_invoice(first, seats=1, email="mover@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=None,
                         initiator="staff")
    email = Communication.objects.get(booking=booking, recipient="mover@example.com",
                                      kind=Communication.Kind.BOOKING_CHANGED)
    assert "£10.00 is still to pay" in email.body
    link = next(word for word in email.body.split() if "/balance/?key=" in word)
    assert client.get(local(link)).status_code == 200


def test_staff_email_the_payment_link_from_the_booking_hub(
        admin_client, owing, django_capture_on_commit_callbacks):
    hub = admin_client.get(f"/admin/bookings/booking/{owing.pk}/change/").content.decode()
    assert "Email a link to pay £30.00" in hub
    url = f"/admin/bookings/booking/{owing.pk}/balance-link/"
    assert "still owes <strong>£30.00</strong>" in admin_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, follow=True)
    assert "A link to pay £30.00 was emailed" in response.content.decode()
    email = Communication.objects.get(booking=owing, kind=Communication.Kind.PAYMENT_LINK)
    assert email.recipient == owing.purchaser.email
