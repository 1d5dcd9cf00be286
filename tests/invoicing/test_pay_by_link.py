"""Paying a booking on account's invoice (issue #18 item 2): the confirmation email carries
the invoice PDF and its due date; the confirmation and the reminders carry a signed link
that pays what is outstanding by card, for the purchaser or a company contact; paid in
full, the booking becomes paid as a full bank transfer makes it, and its invoice stands."""

import base64
import re
from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.bookings.access import booking_pay_link
from apps.bookings.models import Booking
from apps.core.errors import ConflictError
from apps.core.models import Communication
from apps.invoicing.models import CreditNote, Invoice
from apps.payments.balance import _balance_attempt, payment_pay_balance
from apps.payments.models import Payment, PaymentEvent
from apps.payments.on_account import (
    booking_on_account_create,
    booking_outstanding,
    on_account_payment_record,
    on_account_send_reminders,
)
from apps.payments.selectors import booking_balance_due
from apps.payments.services import payment_apply_intent, payment_pay_card
from apps.users.models import User
from tests.companies.helpers import make_company, on_account_request
from tests.factories import SessionFactory, UserFactory
from tests.payments.helpers import card_token

pytestmark = pytest.mark.django_db

GOOD = "4242424242424242"


@pytest.fixture
def company(vat_20):
    return make_company(contacts=["boss@acme.example", "finance@acme.example"], terms=30,
                        po=True)


@pytest.fixture
def on_account(company):
    session = SessionFactory(capacity=5, price=5000)
    return booking_on_account_create(request=on_account_request(session),
                                     company_id=company.pk, purchase_order="PO-4471")


def path_of(link: str) -> str:
    assert link.startswith(settings.SITE_URL)
    return link[len(settings.SITE_URL):]


def reminder_day(booking):
    """Midday on the day the reminder before the due date goes out."""
    day = booking.payment_due_date - timedelta(days=settings.ON_ACCOUNT_REMINDER_DAYS_BEFORE)
    return timezone.make_aware(datetime.combine(day, time(12)))


def pay_link_in(body: str) -> str:
    match = re.search(r"by card: (\S+)", body)
    assert match, body
    return match.group(1)


def test_the_confirmation_carries_the_invoice_pdf_due_date_and_a_pay_link(on_account):
    invoice = Invoice.objects.get(booking=on_account)
    email = Communication.objects.get(booking=on_account, recipient="boss@acme.example",
                                      kind=Communication.Kind.BOOKING_CONFIRMATION)
    pdf = next(a for a in email.attachments if a["mimetype"] == "application/pdf")
    assert pdf["filename"] == f"{invoice.number}.pdf"
    assert base64.b64decode(pdf["content_base64"]).startswith(b"%PDF")
    due = f"{invoice.due_on:%-d %b %Y}"
    assert f"Invoice:    {invoice.number} (attached), due {due}" in email.body
    assert "PO number:  PO-4471" in email.body
    assert "/pay/" in pay_link_in(email.body)
    # The attendees hear of their seat, not of the company's invoice.
    for attendee in ("c1@acme.example", "c2@acme.example"):
        theirs = Communication.objects.get(booking=on_account, recipient=attendee)
        assert all(a["mimetype"] != "application/pdf" for a in theirs.attachments)
        assert invoice.number not in theirs.body and "/pay/" not in theirs.body


def test_reminders_carry_a_pay_link_for_each_contact(on_account):
    assert on_account_send_reminders(now=reminder_day(on_account)) == 2
    for email in ("boss@acme.example", "finance@acme.example"):
        reminder = Communication.objects.get(recipient=email,
                                             kind=Communication.Kind.ON_ACCOUNT_REMINDER)
        assert "/pay/" in pay_link_in(reminder.body)
        # The booking link opens for its recipient, signed in or not (a contact who did
        # not book gets the company's page).
        link = re.search(r"Your booking: (\S+)", reminder.body).group(1)
        user = User.objects.get(email=email)
        signed_out, signed_in = Client(), Client()
        signed_in.force_login(user)
        assert signed_out.get(path_of(link), follow=True).status_code == 200
        assert signed_in.get(path_of(link), follow=True).status_code == 200


def test_the_link_opens_the_card_page_for_the_purchaser_and_a_contact_only(client, on_account):
    balance_url = reverse("bookings:balance", args=[on_account.reference])
    for email in ("boss@acme.example", "finance@acme.example"):
        client.cookies.clear()
        response = client.get(path_of(booking_pay_link(booking=on_account, email=email)))
        assert response.status_code == 302 and response["Location"] == balance_url
        page = client.get(balance_url)
        assert page.status_code == 200
        assert "Pay the invoice by card" in page.content.decode()
        assert "£100.00" in page.content.decode() and "PO-4471" in page.content.decode()

    client.cookies.clear()
    UserFactory(email="stranger@example.com")
    stranger = client.get(path_of(booking_pay_link(booking=on_account,
                                                   email="stranger@example.com")))
    assert stranger.status_code == 410
    assert client.get(balance_url).status_code == 404
    assert client.get(reverse("portal:access-pay", args=["not-a-key"])).status_code == 404


def test_paid_by_card_through_the_link_the_booking_is_paid_and_the_invoice_stands(
        client, fake_stripe, on_account, django_capture_on_commit_callbacks):
    invoice = Invoice.objects.get(booking=on_account)
    client.get(path_of(booking_pay_link(booking=on_account, email="finance@acme.example")))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("bookings:pay-balance", args=[on_account.reference]),
                               {"confirmation_token": card_token(GOOD)})
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    on_account.refresh_from_db()
    assert on_account.status == Booking.Status.PAID
    assert booking_outstanding(on_account) == 0 and booking_balance_due(booking=on_account) == 0
    payment = Payment.objects.get(booking=on_account)
    assert (payment.amount, payment.purpose) == (10000, Payment.Purpose.BALANCE)
    assert list(Invoice.objects.filter(booking=on_account)) == [invoice]
    assert not CreditNote.objects.exists()
    receipt = Communication.objects.get(booking=on_account,
                                        kind=Communication.Kind.PAYMENT_RECEIVED)
    assert "paid in full" in receipt.body
    # Paid, nothing more to pay: a second attempt is refused with a sentence.
    with pytest.raises(ConflictError, match="Nothing is owed"):
        payment_pay_balance(booking=on_account, confirmation_token=card_token(GOOD))
    # Staff cannot record a bank transfer against it either.
    with pytest.raises(ConflictError, match="nothing outstanding"):
        on_account_payment_record(booking_id=on_account.pk, amount=100, actor=None)


def test_a_part_paid_invoice_is_paid_off_by_card(fake_stripe, on_account):
    on_account_payment_record(booking_id=on_account.pk, amount=3000, actor=None)
    result = payment_pay_balance(booking=on_account, confirmation_token=card_token(GOOD))
    assert result.payment.amount == 7000 and result.payment.status == Payment.Status.SUCCEEDED
    on_account.refresh_from_db()
    assert on_account.status == Booking.Status.PAID
    assert Invoice.objects.filter(booking=on_account).count() == 1


def test_our_answer_and_the_webhook_in_either_order_pay_it_once(on_account):
    payment, _ = _balance_attempt(booking_id=on_account.pk, confirmation_token="ctoken_t",
                                  now=on_account.created_at)
    intent = {"id": "pi_on_account_1", "status": "succeeded", "amount": 10000,
              "amount_received": 10000, "metadata": {"payment_id": str(payment.pk)}}
    payment_apply_intent(intent=dict(intent))
    payment_apply_intent(intent=dict(intent))
    on_account.refresh_from_db()
    assert on_account.status == Booking.Status.PAID
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.succeeded").count() == 1
    assert not PaymentEvent.objects.filter(payment=payment, kind="payment.unneeded").exists()
    assert Communication.objects.filter(booking=on_account,
                                        kind=Communication.Kind.PAYMENT_RECEIVED).count() == 1


def test_a_part_transfer_is_refused_while_a_card_payment_is_in_flight(on_account):
    _balance_attempt(booking_id=on_account.pk, confirmation_token="ctoken_t",
                     now=on_account.created_at)
    with pytest.raises(ConflictError, match="A card payment of £100.00 is in progress"):
        on_account_payment_record(booking_id=on_account.pk, amount=4000, actor=None)
    # The full amount may be recorded: the card payment, if it lands, is not needed.
    on_account_payment_record(booking_id=on_account.pk, amount=10000, actor=None)
    on_account.refresh_from_db()
    assert on_account.status == Booking.Status.PAID


def test_a_card_payment_landing_after_a_full_transfer_is_recorded_as_unneeded(on_account):
    payment, _ = _balance_attempt(booking_id=on_account.pk, confirmation_token="ctoken_t",
                                  now=on_account.created_at)
    on_account_payment_record(booking_id=on_account.pk, amount=10000, actor=None)
    payment_apply_intent(intent={"id": "pi_late_1", "status": "succeeded", "amount": 10000,
                                 "amount_received": 10000,
                                 "metadata": {"payment_id": str(payment.pk)}})
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.unneeded").exists()
    assert Invoice.objects.filter(booking=on_account).count() == 1


def test_a_released_booking_takes_no_card(on_account):
    Booking.objects.filter(pk=on_account.pk).update(status=Booking.Status.EXPIRED)
    on_account.refresh_from_db()
    assert booking_balance_due(booking=on_account) == 0
    with pytest.raises(ConflictError, match="there is nothing to pay"):
        payment_pay_balance(booking=on_account, confirmation_token="ctoken_x")


def test_the_first_payment_path_refuses_a_booking_on_account(on_account, fake_stripe):
    """Only the balance page pays an invoice, for what is outstanding: a direct request to
    the first-payment path would charge the whole total over any bank transfer."""
    with pytest.raises(ConflictError, match="is on account"):
        payment_pay_card(booking=on_account, confirmation_token=card_token("4242424242424242"))
    assert not Payment.objects.filter(booking=on_account).exists()
