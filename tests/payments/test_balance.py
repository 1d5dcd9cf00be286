"""Paying what a paid booking still owes after a move to a dearer date
(apps/payments/balance.py): the amount, the refusals, one intent per balance, and the
success recorded once without confirming the booking again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.errors import ConflictError
from apps.core.models import Communication
from apps.invoicing.models import CreditNote, Invoice
from apps.invoicing.services import credited_total, current_invoice
from apps.payments.balance import (
    _balance_attempt,
    balance_send_payment_link,
    payment_pay_balance,
)
from apps.payments.models import Payment, PaymentEvent
from apps.payments.selectors import booking_balance_due
from apps.refunds.cancellation import booking_cancel
from apps.refunds.changes import booking_transfer
from apps.users.models import ActivityLog
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import card_token, deliver, intent_event
from tests.refunds.conftest import pay_by_card

pytestmark = pytest.mark.django_db

GOOD = "4242424242424242"
DECLINED = "4000000000000341"
THREE_D_SECURE = "4000002500003155"


def owing_booking():
    """Two seats at £50 paid by card, moved to the £60 date: £20 owed."""
    first = SessionFactory(capacity=10, price=5000, starts_at=timezone.now() + timedelta(days=20))
    dearer = SessionFactory(course=first.course, capacity=10, price=6000,
                            starts_at=timezone.now() + timedelta(days=30))
    booking = make_booking(first, email="payer@example.com", seats=2)
    pay_by_card(booking)
    booking_transfer(booking_id=booking.pk, to_session_id=dearer.pk, actor=booking.purchaser,
                     initiator="customer")
    booking.refresh_from_db()
    assert booking_balance_due(booking=booking) == 2000
    return booking


@pytest.fixture
def owing(fake_stripe):
    return owing_booking()


def balance_payments(booking):
    return Payment.objects.filter(booking=booking, purpose=Payment.Purpose.BALANCE)


def test_paying_the_balance_adds_a_payment_and_leaves_nothing_owed(
        owing, django_capture_on_commit_callbacks):
    confirmations = Communication.objects.filter(
        booking=owing, kind=Communication.Kind.BOOKING_CONFIRMATION).count()
    spent = owing.purchaser.total_spent
    with django_capture_on_commit_callbacks(execute=True):
        result = payment_pay_balance(booking=owing, confirmation_token=card_token(GOOD))

    payment = result.payment
    assert payment.status == Payment.Status.SUCCEEDED
    assert (payment.amount, payment.purpose, payment.card_last4) == (2000, "balance", "4242")
    owing.refresh_from_db()
    assert owing.status == Booking.Status.PAID
    assert booking_balance_due(booking=owing) == 0
    assert Payment.objects.filter(booking=owing, status=Payment.Status.SUCCEEDED).count() == 2
    # No second confirmation: the booking was already confirmed.
    assert Communication.objects.filter(
        booking=owing, kind=Communication.Kind.BOOKING_CONFIRMATION).count() == confirmations
    receipt = Communication.objects.get(booking=owing, kind=Communication.Kind.PAYMENT_RECEIVED)
    assert receipt.recipient == "payer@example.com"
    assert "we have received £20.00" in receipt.body and "paid in full" in receipt.body
    assert ActivityLog.objects.get(action="booking.balance_paid").data["amount"] == 2000
    owing.purchaser.refresh_from_db()
    assert owing.purchaser.total_spent == spent + 2000
    assert not PaymentEvent.objects.filter(payment=payment, kind="payment.unneeded").exists()


def test_nothing_owed_or_a_cancelled_booking_is_refused_with_a_sentence(fake_stripe):
    paid = make_booking(SessionFactory(price=5000), email="fine@example.com")
    pay_by_card(paid)
    with pytest.raises(ConflictError, match=f"Nothing is owed on booking {paid.reference}"):
        payment_pay_balance(booking=paid, confirmation_token=card_token(GOOD))

    owing = owing_booking()
    booking_cancel(booking_id=owing.pk, actor=None, reason="Customer asked", refund_amount=0)
    with pytest.raises(ConflictError, match="is cancelled: there is nothing to pay"):
        payment_pay_balance(booking=owing, confirmation_token=card_token(GOOD))
    assert not balance_payments(owing).exists() and not balance_payments(paid).exists()


def test_a_declined_card_leaves_the_balance_owed_and_another_card_pays_it(owing):
    declined = payment_pay_balance(booking=owing, confirmation_token=card_token(DECLINED))
    assert declined.payment.status == Payment.Status.FAILED
    owing.refresh_from_db()
    assert owing.status == Booking.Status.PAID and booking_balance_due(booking=owing) == 2000

    paid = payment_pay_balance(booking=owing, confirmation_token=card_token(GOOD))
    assert paid.payment.status == Payment.Status.SUCCEEDED and paid.payment != declined.payment
    assert booking_balance_due(booking=owing) == 0


def test_a_second_request_reuses_the_open_intent_instead_of_making_another(owing):
    first = payment_pay_balance(booking=owing, confirmation_token=card_token(THREE_D_SECURE))
    assert first.payment.status == Payment.Status.REQUIRES_ACTION and first.client_secret

    second = payment_pay_balance(booking=owing, confirmation_token=card_token(GOOD))

    assert second.payment.pk == first.payment.pk
    assert second.client_secret == first.client_secret  # the page finishes the same 3-D Secure
    assert balance_payments(owing).count() == 1
    assert balance_payments(owing).get().stripe_payment_intent_id


def test_an_attempt_still_on_its_way_to_stripe_blocks_a_second_one(owing):
    now = timezone.now()
    payment, create = _balance_attempt(booking_id=owing.pk, confirmation_token="ctoken_a",
                                       now=now)
    assert create and payment.amount == 2000
    with pytest.raises(ConflictError, match="already being processed"):
        _balance_attempt(booking_id=owing.pk, confirmation_token="ctoken_b", now=now)
    # The same token again (a retry after no answer) reuses it: same idempotency key.
    again, create = _balance_attempt(booking_id=owing.pk, confirmation_token="ctoken_a", now=now)
    assert create and again.pk == payment.pk
    # Long after, an attempt Stripe never answered is closed and a new one starts.
    later, create = _balance_attempt(booking_id=owing.pk, confirmation_token="ctoken_b",
                                     now=now + timedelta(hours=1))
    assert create and later.pk != payment.pk
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED


def test_the_webhook_records_a_balance_payment_once_in_any_order(
        client, owing, django_capture_on_commit_callbacks):
    """Our own answer from Stripe was lost: the webhook finds the attempt by its metadata,
    pays the balance, and replays and a late failure change nothing."""
    payment, _ = _balance_attempt(booking_id=owing.pk, confirmation_token="ctoken_x",
                                  now=timezone.now())
    metadata = {"payment_id": str(payment.pk), "booking_reference": owing.reference,
                "purpose": "balance"}
    succeeded = intent_event("pi_balance_1", amount=2000, metadata=metadata)
    failed = intent_event("pi_balance_1", type="payment_intent.payment_failed", amount=2000,
                          metadata=metadata, error="Your card was declined.")
    with django_capture_on_commit_callbacks(execute=True):
        for event in (succeeded, succeeded, failed, succeeded):
            assert deliver(client, event).status_code == 200

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.stripe_payment_intent_id == "pi_balance_1"
    assert balance_payments(owing).count() == 1
    assert booking_balance_due(booking=owing) == 0
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.succeeded").count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.balance_paid").count() == 1
    assert Communication.objects.filter(booking=owing,
                                        kind=Communication.Kind.PAYMENT_RECEIVED).count() == 1
    owing.refresh_from_db()
    assert owing.status == Booking.Status.PAID


def test_a_balance_paid_after_the_booking_was_cancelled_is_given_back(
        client, owing, django_capture_on_commit_callbacks):
    payment, _ = _balance_attempt(booking_id=owing.pk, confirmation_token="ctoken_y",
                                  now=timezone.now())
    booking_cancel(booking_id=owing.pk, actor=None, reason="Customer asked", refund_amount=0)
    event = intent_event("pi_balance_2", amount=2000,
                         metadata={"payment_id": str(payment.pk)})
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, event)
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.unneeded").exists()
    assert not Communication.objects.filter(booking=owing,
                                            kind=Communication.Kind.PAYMENT_RECEIVED).exists()


def test_staff_email_a_link_to_pay_the_balance(owing, admin_user,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        amount = balance_send_payment_link(booking=owing, actor=admin_user)
    assert amount == 2000
    email = Communication.objects.get(booking=owing, kind=Communication.Kind.PAYMENT_LINK)
    assert email.recipient == "payer@example.com"
    assert "£20.00 is still to pay" in email.body
    assert f"/bookings/{owing.reference}/balance/?key=" in email.body
    log = ActivityLog.objects.get(action="booking.balance_link_sent")
    assert log.actor == admin_user and log.data["amount"] == 2000

    payment_pay_balance(booking=owing, confirmation_token=card_token(GOOD))
    with pytest.raises(ConflictError, match="Nothing is owed"):
        balance_send_payment_link(booking=owing, actor=admin_user)


def test_a_paid_balance_reissues_the_invoice_so_documents_match_the_money(
        owing, django_capture_on_commit_callbacks):
    first = current_invoice(booking_id=owing.pk)
    assert first.gross_total == 10000  # invoiced when the £100 was paid
    with django_capture_on_commit_callbacks(execute=True):
        payment_pay_balance(booking=owing, confirmation_token=card_token(GOOD))

    owing.refresh_from_db()
    now_invoiced = current_invoice(booking_id=owing.pk)
    assert now_invoiced.replaces == first and now_invoiced.gross_total == 12000
    assert credited_total(first) == 10000  # the old invoice credited in full
    assert sum(line.vat for line in now_invoiced.lines.all()) == now_invoiced.vat_total
    session = owing.session
    assert timezone.localtime(session.starts_at).strftime("%-d %b %Y") in \
        now_invoiced.lines.first().description  # names the date sold now

    def invoiced_less_credited():
        invoiced = sum(i.gross_total for i in Invoice.objects.filter(booking=owing))
        credited = sum(c.gross_total for c in CreditNote.objects.filter(invoice__booking=owing))
        return invoiced - credited

    assert invoiced_less_credited() == 12000  # what the customer paid
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking_id=owing.pk, actor=None, reason="test",
                       refund_amount=12000)
    refunded = sum(r.amount for p in owing.payments.all() for r in p.refunds.all())
    assert refunded == 12000
    assert invoiced_less_credited() == 0  # the credit notes match the refunds
