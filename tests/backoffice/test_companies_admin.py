"""Staff side of company accounts: link requests decided in admin, phone bookings on
account, bank transfers recorded in the booking hub, and the overdue list."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.bookings.models import Booking
from apps.companies.models import CompanyContact, CompanyLinkRequest
from apps.companies.services import company_link_request_create
from apps.core.models import Communication
from apps.payments.models import Payment
from apps.payments.on_account import booking_on_account_create
from apps.users.models import ActivityLog
from apps.users.services import user_change_role, user_get_or_create
from tests.api.conftest import client_for
from tests.companies.helpers import make_company, on_account_request
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_approve_and_decline_requests(admin_client, admin_user):
    acme = make_company()
    first = company_link_request_create(user=UserFactory(email="a@acme.example"),
                                        company_name="ACME LTD")
    second = company_link_request_create(user=UserFactory(email="b@else.example"),
                                         company_name="Nobody Inc")
    url = reverse("admin:companies_companylinkrequest_changelist")
    admin_client.post(url, {"action": "approve", "_selected_action": [first.pk]})
    admin_client.post(url, {"action": "decline", "_selected_action": [second.pk]})
    assert CompanyContact.objects.filter(company=acme, user__email="a@acme.example").exists()
    assert CompanyLinkRequest.objects.get(pk=second.pk).status == "declined"
    assert sorted(Communication.objects.filter(
        kind=Communication.Kind.COMPANY_LINK_DECISION).values_list("recipient", flat=True)) == [
        "a@acme.example", "b@else.example"]
    assert set(ActivityLog.objects.filter(actor=admin_user).values_list("action", flat=True)) \
        >= {"company.link_approved", "company.link_declined", "company.contact_linked"}


def test_phone_booking_on_account(admin_client):
    acme = make_company(po=True, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000)
    data = {"session": session.pk, "email": "boss@acme.example", "first_name": "Office",
            "last_name": "Manager", "company_name": "", "phone": "",
            "attendees": "Ann One, ann@acme.example\nBob Two, bob@acme.example",
            "special_requirements": "", "payment": "account", "company": acme.pk,
            "purchase_order": ""}
    url = reverse("admin:bookings_booking_phone")
    refused = admin_client.post(url, data)
    assert "needs a purchase order" in refused.content.decode()
    response = admin_client.post(url, {**data, "purchase_order": "PO-5"})
    booking = Booking.objects.get()
    assert response.status_code == 302
    assert (booking.status, booking.company, booking.purchase_order) == (
        Booking.Status.PENDING, acme, "PO-5")
    assert booking.hold_expires_at is None and not booking.payments.exists()


def test_bank_transfers_recorded_in_the_hub_partial_then_full(admin_client, admin_user):
    acme = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000)
    booking = booking_on_account_create(request=on_account_request(session),
                                        company_id=acme.pk, purchase_order="PO-1")
    hub = admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))
    url = reverse("admin:bookings_booking_bank_transfer", args=[booking.pk])
    assert url in hub.content.decode()
    page = admin_client.get(url).content.decode()
    assert "£100.00 outstanding" in page
    too_much = admin_client.post(url, {"amount": "150", "note": ""})
    assert too_much.status_code == 200 and not Payment.objects.exists()
    admin_client.post(url, {"amount": "40", "note": "BACS ref 1"})
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING
    admin_client.post(url, {"amount": "60.00", "note": "BACS ref 2"})
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID
    assert list(Payment.objects.filter(booking=booking).order_by("attempt").values_list(
        "method", "amount")) == [("bank_transfer", 4000), ("bank_transfer", 6000)]
    assert ActivityLog.objects.filter(action="payment.bank_transfer_recorded",
                                      actor=admin_user).count() == 2


def test_overdue_list(admin_client):
    acme = make_company(terms=0, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=9, price=5000)
    overdue = booking_on_account_create(request=on_account_request(session, tag="o"),
                                        company_id=acme.pk,
                                        now=timezone.now() - timedelta(days=3))
    current = make_company(name="Globex", terms=30, contacts=["boss@globex.example"])
    not_due = booking_on_account_create(
        request=on_account_request(session, purchaser="boss@globex.example", tag="n"),
        company_id=current.pk)
    response = admin_client.get(reverse("admin:bookings_booking_changelist")
                                + "?on_account=overdue")
    page = response.content.decode()
    assert overdue.reference in page and not_due.reference not in page


def test_staff_api_books_on_account(admin_user):
    acme = make_company(po=True, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000)
    client = client_for(admin_user, token=True)
    body = {"session_id": session.pk,
            "purchaser": {"email": "boss@acme.example", "first_name": "Office"},
            "attendees": [{"name": "Ann One", "email": "ann@acme.example"}],
            "payment": "account"}
    missing = client.post("/api/admin/bookings", body, format="json")
    assert missing.status_code == 400
    assert "company_id" in missing.json()["error"]["fields"]
    no_po = client.post("/api/admin/bookings", {**body, "company_id": acme.pk}, format="json")
    assert no_po.status_code == 400 and "purchase order" in no_po.json()["error"]["message"]
    made = client.post("/api/admin/bookings",
                       {**body, "company_id": acme.pk, "purchase_order": "PO-API"},
                       format="json")
    assert made.status_code == 201, made.content
    assert (made.json()["status"], made.json()["purchase_order"], made.json()["company_id"],
            made.json()["payment_url"]) == ("pending", "PO-API", acme.pk, None)
    assert made.json()["payment_due_date"]


def test_staff_add_a_company_with_a_contact_audited(admin_client, admin_user):
    customer = UserFactory(email="pa@initech.example")
    response = admin_client.post(reverse("admin:companies_company_add"), {
        "name": "Initech", "billing_address": "1 Office Park", "vat_number": "GB999",
        "approved_for_invoice": "on", "payment_terms_days": "14", "credit_limit": "2,500.00",
        "currency": "GBP",
        "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0", "contacts-MAX_NUM_FORMS": "1000",
        "contacts-0-user": customer.pk, "contacts-0-role": "admin"})
    assert response.status_code == 302, response.content.decode()[:2000]
    contact = CompanyContact.objects.get(user=customer)
    assert (contact.company.name, contact.role, contact.company.credit_limit) == (
        "Initech", "admin", 250000)
    assert ActivityLog.objects.filter(action="company.contact_linked", actor=admin_user,
                                      user=customer).count() == 1
    created = ActivityLog.objects.get(action="company.created")
    assert created.data["approved_for_invoice"] == "True"


def test_support_staff_decide_link_requests():
    support = user_change_role(user=user_get_or_create(email="support@example.com"),
                               role="support", actor=None)
    link_request = company_link_request_create(user=UserFactory(email="a@acme.example"),
                                               company_name="Acme Ltd")
    make_company()
    client = Client()
    client.force_login(support)
    url = reverse("admin:companies_companylinkrequest_changelist")
    assert client.get(url).status_code == 200
    client.post(url, {"action": "approve", "_selected_action": [link_request.pk]})
    assert CompanyContact.objects.filter(user__email="a@acme.example").exists()
