"""The credit limit holds under real concurrency: threads with their own connections."""

import dataclasses
import uuid

import pytest
from django.db import connection

from apps.bookings.models import Booking
from apps.core.errors import ConflictError
from apps.payments.models import Payment
from apps.payments.on_account import (
    CreditLimitError,
    booking_on_account_create,
    company_owes,
    on_account_payment_record,
)
from tests.bookings.test_concurrency import run_in_threads
from tests.companies.helpers import make_company, on_account_request
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_twelve_threads_against_a_limit_for_four_bookings_make_exactly_four():
    assert connection.vendor == "postgresql"
    company = make_company(limit=40000, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=30, price=5000)  # 2 seats each: £100 a booking

    results = run_in_threads(12, lambda i: booking_on_account_create(
        request=on_account_request(session, tag=f"t{i}-"), company_id=company.pk).reference)

    won = [value for outcome, value in results if outcome == "ok"]
    lost = [value for outcome, value in results if outcome == "error"]
    assert len(won) == 4
    assert all(isinstance(error, CreditLimitError) for error in lost), lost
    assert company_owes(company_id=company.pk) == 40000
    assert Booking.objects.filter(company=company).count() == 4
    session.refresh_from_db()
    assert session.seats_taken == 8


def test_two_staff_recording_the_whole_outstanding_at_once_record_it_once():
    company = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=30, price=5000)
    booking = booking_on_account_create(request=on_account_request(session),
                                        company_id=company.pk)

    results = run_in_threads(6, lambda i: on_account_payment_record(
        booking_id=booking.pk, amount=10000, actor=None, note=f"clerk {i}").pk)

    assert [outcome for outcome, _ in results].count("ok") == 1
    assert all(isinstance(v, ConflictError) for o, v in results if o == "error")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID
    assert sum(Payment.objects.filter(booking=booking).values_list("amount", flat=True)) \
        == 10000


def test_one_form_submitted_five_times_at_once_makes_one_booking_not_a_credit_refusal():
    company = make_company(limit=10000, contacts=["boss@acme.example"])  # room for one
    session = SessionFactory(capacity=30, price=5000)
    request = dataclasses.replace(on_account_request(session), submission_token=uuid.uuid4())

    results = run_in_threads(5, lambda i: booking_on_account_create(
        request=request, company_id=company.pk).reference)

    assert {outcome for outcome, _ in results} == {"ok"}, results
    assert len({reference for _, reference in results}) == 1
    assert Booking.objects.filter(company=company).count() == 1
