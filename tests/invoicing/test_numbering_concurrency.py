"""Invoice numbers on PostgreSQL under concurrent issuing: threads with their own
connections, each issuing for its own paid booking at the same moment."""

import pytest
from django.db import connection

from apps.bookings.models import Booking
from apps.invoicing.models import CreditNote, Invoice
from apps.invoicing.services import credit_note_issue, invoice_for_paid_booking
from tests.bookings.test_concurrency import run_in_threads
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db(transaction=True)

N = 16


def _paid_bookings(count):
    session = SessionFactory(capacity=count, price=4500)
    bookings = [make_booking(session, email=f"buyer{i}@example.com") for i in range(count)]
    # Paid without an invoice yet (as bookings paid before invoicing existed).
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(status=Booking.Status.PAID)
    return bookings


def test_concurrent_issues_get_numbers_one_to_n_with_no_gap_or_repeat(vat_20):
    assert connection.vendor == "postgresql"
    bookings = _paid_bookings(N)

    results = run_in_threads(N, lambda i: invoice_for_paid_booking(booking=bookings[i]).number)

    assert all(outcome == "ok" for outcome, _ in results), results
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == list(range(1, N + 1))
    assert sorted(number for _, number in results) == [f"INV-{n:06d}" for n in range(1, N + 1)]


def test_the_same_booking_raced_gets_one_invoice_and_uses_one_number(vat_20):
    [booking] = _paid_bookings(1)
    results = run_in_threads(8, lambda i: invoice_for_paid_booking(booking=booking).number)
    assert {number for _, number in results} == {"INV-000001"}
    assert Invoice.objects.count() == 1
    invoice_for_paid_booking(booking=_paid_bookings(1)[0])
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2]


def test_racing_credit_notes_never_credit_more_than_the_invoice(vat_20):
    [booking] = _paid_bookings(1)
    invoice = invoice_for_paid_booking(booking=booking)  # £45.00
    results = run_in_threads(10, lambda i: credit_note_issue(
        invoice=invoice, amount=1000, reason="racer", source_key=f"race:{i}").number)
    assert sum(outcome == "ok" for outcome, _ in results) == 4
    assert sorted(CreditNote.objects.values_list("sequence", flat=True)) == [1, 2, 3, 4]
