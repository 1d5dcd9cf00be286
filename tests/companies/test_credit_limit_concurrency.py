"""The credit limit holds under real concurrency: threads with their own connections."""

import pytest
from django.db import connection

from apps.bookings.models import Booking
from apps.payments.on_account import CreditLimitError, booking_on_account_create, company_owes
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
