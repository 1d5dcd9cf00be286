"""Staff search on the bookings and payments changelists: whole emails and references
are found exactly (through indexes), other text still searches names and companies, and
the page's query count does not grow with the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db

BOOKINGS = "/admin/bookings/booking/"


def listed(admin_client, url):
    page = admin_client.get(url)
    assert page.status_code == 200
    return page.content.decode()


def test_an_email_finds_bookings_bought_and_attended(admin_client):
    session = SessionFactory(capacity=10)
    bought = make_booking(session, email="Ada@Acme.example", seats=2)  # guest1.ada@acme...
    attended = make_booking(session, email="boss@acme.example", seats=1)
    attended.attendees.create(user=bought.purchaser, name="Ada", email="ada@acme.example")
    other = make_booking(session, email="someone@else.example")

    page = listed(admin_client, BOOKINGS + "?q=ADA@acme.example")
    assert bought.reference in page and attended.reference in page
    assert other.reference not in page
    guest_page = listed(admin_client, BOOKINGS + "?q=guest1.ada@acme.example")
    assert bought.reference in guest_page and attended.reference not in guest_page


def test_a_reference_finds_its_booking_and_other_text_searches_names(admin_client):
    session = SessionFactory(capacity=10)
    first = make_booking(session, email="one@example.com")
    second = make_booking(session, email="two@example.com")
    page = listed(admin_client, BOOKINGS + f"?q={first.reference.lower()}")
    assert first.reference in page and second.reference not in page
    second.purchaser.last_name = "Featherstonehaugh"
    second.purchaser.save(update_fields=["last_name"])
    page = listed(admin_client, BOOKINGS + "?q=therstone")
    assert second.reference in page and first.reference not in page


def test_payments_are_found_by_payer_email_and_booking_reference(admin_client):
    session = SessionFactory(capacity=10)
    paid = make_booking(session, email="payer@example.com")
    other = make_booking(session, email="other@example.com")
    for booking in (paid, other):
        payment_record_manual(booking=booking, method="invoice", actor=None)
    for term in ("payer@example.com", paid.reference):
        page = listed(admin_client, f"/admin/payments/payment/?q={term}")
        assert paid.reference in page and other.reference not in page


def test_changelist_queries_do_not_grow_with_rows(admin_client):
    session = SessionFactory(capacity=40)
    make_booking(session, email="first@example.com")
    listed(admin_client, BOOKINGS)
    with CaptureQueriesContext(connection) as few:
        listed(admin_client, BOOKINGS)
    for n in range(12):
        make_booking(session, email=f"more{n}@example.com", seats=2)
    with CaptureQueriesContext(connection) as many:
        listed(admin_client, BOOKINGS)
    assert len(many) == len(few)
