"""A company contact's portal: the company's bookings, and booking on account from the
booking form. A contact of one company never sees another's; anyone else gets a 404."""

import pytest
from django.test import Client

from apps.bookings.models import Booking
from apps.companies.models import CompanyContact, CompanyLinkRequest
from apps.payments.on_account import booking_on_account_create
from apps.users.models import User
from tests.companies.helpers import make_company, on_account_request
from tests.factories import SessionFactory, UserFactory
from tests.portal.test_views import form_data

pytestmark = pytest.mark.django_db


def signed_in(email):
    client = Client()
    client.force_login(User.objects.get(email=email))
    return client


@pytest.fixture
def two_companies():
    acme = make_company(name="Acme Ltd", po=True,
                        contacts=["boss@acme.example", "finance@acme.example"])
    globex = make_company(name="Globex plc", contacts=["boss@globex.example"])
    session = SessionFactory(capacity=10, price=5000)
    acme_booking = booking_on_account_create(request=on_account_request(session),
                                             company_id=acme.pk, purchase_order="PO-ACME-1")
    globex_booking = booking_on_account_create(
        request=on_account_request(session, purchaser="boss@globex.example", tag="g"),
        company_id=globex.pk)
    return acme, globex, acme_booking, globex_booking


def test_every_contact_sees_the_company_bookings_with_a_link_to_manage_them(two_companies):
    acme, _, acme_booking, globex_booking = two_companies
    response = signed_in("finance@acme.example").get(f"/portal/companies/{acme.pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert acme_booking.reference in page and "PO-ACME-1" in page and "£100.00" in page
    assert globex_booking.reference not in page
    link = response.context["bookings"][0].link
    opened = Client().get(link)
    assert opened.status_code == 200 and acme_booking.reference in opened.content.decode()


def test_a_contact_of_another_company_and_a_stranger_get_404(two_companies):
    acme, globex, _, _ = two_companies
    assert signed_in("boss@acme.example").get(f"/portal/companies/{globex.pk}/").status_code \
        == 404
    assert signed_in("boss@globex.example").get(f"/portal/companies/{acme.pk}/").status_code \
        == 404
    UserFactory(email="stranger@example.com")
    assert signed_in("stranger@example.com").get(f"/portal/companies/{acme.pk}/").status_code \
        == 404
    anonymous = Client().get(f"/portal/companies/{acme.pk}/")
    assert anonymous.status_code == 302 and "/accounts/" in anonymous["Location"]


def test_request_to_book_for_an_employer():
    UserFactory(email="pa@initech.example")
    client = signed_in("pa@initech.example")
    response = client.post("/portal/companies/", {"company_name": "Initech", "message": ""})
    assert response.status_code == 302
    assert CompanyLinkRequest.objects.get().company_name == "Initech"
    again = client.post("/portal/companies/", {"company_name": "Initech", "message": ""})
    assert "already have a request waiting" in again.content.decode()


def book_data(session, **overrides):
    data = form_data(session, seats=2, email="boss@acme.example", first_name="Office",
                     last_name="Manager")
    data.update(overrides)
    return data


def test_contact_books_on_account_with_a_po_number():
    acme = make_company(po=True, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=10, price=5000)
    client = signed_in("boss@acme.example")
    form_page = client.get(f"/sessions/{session.pk}/book/").content.decode()
    assert "Pay by invoice (Acme Ltd)" in form_page
    missing = client.post(f"/sessions/{session.pk}/book/",
                          book_data(session, pay_by=str(acme.pk), purchase_order=""))
    assert missing.status_code == 200
    assert "needs a purchase order (PO) number" in missing.content.decode()
    assert not Booking.objects.exists()
    response = client.post(f"/sessions/{session.pk}/book/",
                           book_data(session, pay_by=str(acme.pk), purchase_order="PO-9"))
    booking = Booking.objects.get()
    assert response.status_code == 302 and response["Location"] == booking.get_absolute_url()
    assert (booking.company, booking.purchase_order, booking.hold_expires_at) == (
        acme, "PO-9", None)
    page = client.get(booking.get_absolute_url()).content.decode()
    assert "confirmed on Acme Ltd's account" in page and "PO-9" in page
    assert "payment-form" not in page


def test_pay_by_invoice_is_not_offered_or_accepted_outside_an_approved_company():
    acme = make_company(approved=False, contacts=["boss@acme.example"])
    other = make_company(name="Globex plc")
    session = SessionFactory(capacity=10, price=5000)
    client = signed_in("boss@acme.example")
    assert "Pay by invoice" not in client.get(f"/sessions/{session.pk}/book/").content.decode()
    for company in (acme, other):
        response = client.post(f"/sessions/{session.pk}/book/",
                               book_data(session, pay_by=str(company.pk)))
        assert response.status_code == 200
        assert "Paying by invoice is open to contacts of a company approved" \
            in response.content.decode()
    anonymous = Client().post(f"/sessions/{session.pk}/book/",
                              book_data(session, pay_by=str(other.pk)))
    assert anonymous.status_code == 200 and not Booking.objects.exists()


def test_on_account_booking_is_in_the_contact_name():
    acme = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=10, price=5000)
    response = signed_in("boss@acme.example").post(
        f"/sessions/{session.pk}/book/",
        book_data(session, pay_by=str(acme.pk), email="someone@else.example"))
    assert "made in your own name" in response.content.decode()
    assert not Booking.objects.exists()
    assert CompanyContact.objects.count() == 1
