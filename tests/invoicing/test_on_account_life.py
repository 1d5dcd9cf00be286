"""An invoice-paid booking through its whole life (issue #18): booked on account with a PO,
invoiced and emailed with the PDF, reminded before the due date, paid by card through the
reminder's link, paid; and a second booking cancelled unpaid, credited in full."""

import base64
import re
from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.invoicing.models import CreditNote, Invoice
from apps.payments.models import Payment
from apps.payments.on_account import (
    booking_on_account_create,
    booking_outstanding,
    on_account_overdue,
    on_account_send_reminders,
)
from apps.refunds.cancellation import booking_cancel
from tests.companies.helpers import make_company, on_account_request
from tests.factories import SessionFactory
from tests.payments.helpers import card_token

pytestmark = pytest.mark.django_db


def test_booked_on_account_invoiced_reminded_paid_by_card_link(
        client, fake_stripe, vat_20, django_capture_on_commit_callbacks):
    company = make_company(contacts=["boss@acme.example", "finance@acme.example"], terms=30,
                           po=True)
    session = SessionFactory(capacity=10, price=5000,
                             starts_at=timezone.now() + timedelta(days=60))
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_on_account_create(
            request=on_account_request(session, attendees=3), company_id=company.pk,
            purchase_order="PO-9001")
    assert booking.status == Booking.Status.PENDING and booking.hold_expires_at is None

    # Issued at once, to the company, due on its terms, with the PO.
    invoice = Invoice.objects.get(booking=booking)
    assert (invoice.gross_total, invoice.purchase_order) == (15000, "PO-9001")
    assert invoice.due_on == timezone.localdate() + timedelta(days=30)
    assert invoice.buyer_company == "Acme Ltd"

    # Emailed with its PDF and due date (sent: the outbox ran after commit).
    email = Communication.objects.get(recipient="boss@acme.example",
                                      kind=Communication.Kind.BOOKING_CONFIRMATION)
    assert email.status == Communication.Status.SENT
    pdf = next(a for a in email.attachments if a["filename"] == f"{invoice.number}.pdf")
    assert base64.b64decode(pdf["content_base64"]).startswith(b"%PDF")
    assert f"due {invoice.due_on:%-d %b %Y}" in email.body

    # A reminder before the due date, to the purchaser and the other contact; not overdue.
    day = invoice.due_on - timedelta(days=settings.ON_ACCOUNT_REMINDER_DAYS_BEFORE)
    remind_at = timezone.make_aware(datetime.combine(day, time(9)))
    assert on_account_send_reminders(now=remind_at) == 2
    assert on_account_send_reminders(now=remind_at) == 0  # once each
    assert not on_account_overdue(today=day).exists()
    reminder = Communication.objects.get(recipient="finance@acme.example",
                                         kind=Communication.Kind.ON_ACCOUNT_REMINDER)
    assert "£150.00" in reminder.body and "PO-9001" in reminder.body

    # The finance contact follows the reminder's link and pays by card.
    link = re.search(r"by card: (\S+)", reminder.body).group(1)
    page = client.get(link[len(settings.SITE_URL):], follow=True)
    assert page.status_code == 200 and "Pay the invoice by card" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        paid = client.post(reverse("bookings:pay-balance", args=[booking.reference]),
                           {"confirmation_token": card_token("4242424242424242")})
    assert paid.json()["status"] == "succeeded"

    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID and booking_outstanding(booking) == 0
    card = Payment.objects.get(booking=booking)
    assert (card.amount, card.card_last4) == (15000, "4242")
    assert list(Invoice.objects.filter(booking=booking)) == [invoice]  # not re-issued
    assert not CreditNote.objects.exists()
    # Paid: no more reminders, and the page says so.
    overdue_at = remind_at + timedelta(days=settings.ON_ACCOUNT_REMINDER_DAYS_BEFORE
                                       + settings.ON_ACCOUNT_REMINDER_DAYS_AFTER + 1)
    assert on_account_send_reminders(now=overdue_at) == 0
    after = client.get(reverse("bookings:balance", args=[booking.reference]))
    assert "Nothing more to pay" in after.content.decode()


def test_booked_on_account_and_cancelled_unpaid_is_credited_in_full(vat_20):
    company = make_company(contacts=["boss@acme.example"], terms=14)
    booking = booking_on_account_create(
        request=on_account_request(SessionFactory(capacity=10, price=4250), attendees=3),
        company_id=company.pk)
    invoice = Invoice.objects.get(booking=booking)
    assert invoice.gross_total == 12750

    booking_cancel(booking_id=booking.pk, actor=None, reason="Course no longer needed")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    note = CreditNote.objects.get()
    assert note.invoice == invoice and note.gross_total == invoice.gross_total
    assert (note.net_total, note.vat_total) == (invoice.net_total, invoice.vat_total)
    assert not Payment.objects.filter(booking=booking).exists()
    assert not on_account_send_reminders(
        now=timezone.now() + timedelta(days=14 + settings.ON_ACCOUNT_REMINDER_DAYS_AFTER))
