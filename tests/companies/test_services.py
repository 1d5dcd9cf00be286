"""Company links (staff, or a customer's request staff decide) and booking on account."""

import dataclasses
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.services import release_expired_holds
from apps.bookings.substitution import substitution_rules
from apps.companies.models import CompanyContact, CompanyLinkRequest
from apps.companies.services import (
    company_contact_link,
    company_link_request_approve,
    company_link_request_create,
    company_link_request_decline,
)
from apps.core.errors import ConflictError, DomainError
from apps.core.models import Communication
from apps.invoicing.services import credited_total, current_invoice
from apps.operations.erasure import user_anonymise
from apps.operations.personal_data import user_export_data
from apps.operations.reminders import session_reminders
from apps.operations.tasks import on_account_daily_task
from apps.payments.models import Payment
from apps.payments.on_account import (
    CreditLimitError,
    booking_on_account_create,
    booking_outstanding,
    company_owes,
    on_account_overdue,
    on_account_payment_record,
    on_account_release_unpaid,
    on_account_send_reminders,
)
from apps.pricing.models import DiscountCode
from apps.refunds.cancellation import booking_cancel
from apps.refunds.changes import attendee_cancel
from apps.refunds.models import Refund
from apps.sessions.models import CourseSession
from apps.users.models import ActivityLog, User
from tests.companies.helpers import make_company, on_account_request
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@example.com", role=User.Role.ADMIN, is_staff=True)


def test_staff_link_a_customer_is_audited_and_idempotent(staff):
    company = make_company()
    customer = UserFactory(email="pa@acme.example")
    company_contact_link(company=company, user=customer, actor=staff)
    company_contact_link(company=company, user=customer, actor=staff)
    assert CompanyContact.objects.filter(company=company, user=customer).count() == 1
    assert ActivityLog.objects.filter(action="company.contact_linked", actor=staff).count() == 1


def test_request_approved_links_and_emails_the_decision(staff):
    company = make_company()
    customer = UserFactory(email="pa@acme.example")
    link_request = company_link_request_create(user=customer, company_name="  Acme   Ltd ")
    assert link_request.company_name == "Acme Ltd"
    with pytest.raises(ConflictError):
        company_link_request_create(user=customer, company_name="Acme again")
    company_link_request_approve(request_id=link_request.pk, company=company, actor=staff)
    link_request.refresh_from_db()
    assert link_request.status == CompanyLinkRequest.Status.APPROVED
    assert CompanyContact.objects.filter(company=company, user=customer).exists()
    email = Communication.objects.get(kind=Communication.Kind.COMPANY_LINK_DECISION)
    assert email.recipient == "pa@acme.example"
    assert "You can now book for Acme Ltd" in email.subject
    assert ActivityLog.objects.filter(action="company.link_approved", actor=staff).exists()
    with pytest.raises(ConflictError, match="approved already"):
        company_link_request_decline(request_id=link_request.pk, actor=staff)


def test_request_declined_emails_and_links_nobody(staff):
    customer = UserFactory(email="pa@acme.example")
    link_request = company_link_request_create(user=customer, company_name="Acme Ltd")
    company_link_request_decline(request_id=link_request.pk, actor=staff)
    assert not CompanyContact.objects.exists()
    email = Communication.objects.get(kind=Communication.Kind.COMPANY_LINK_DECISION)
    assert "could not link your account" in email.body
    assert ActivityLog.objects.filter(action="company.link_declined").exists()


def test_booking_on_account_is_confirmed_with_seats_held_po_and_due_date():
    company = make_company(po=True, terms=14, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000)
    booking = booking_on_account_create(request=on_account_request(session),
                                        company_id=company.pk, purchase_order="PO-77")
    assert booking.status == Booking.Status.PENDING
    assert booking.hold_expires_at is None
    assert booking.company == company and booking.purchase_order == "PO-77"
    assert booking.payment_due_date == timezone.localdate() + timedelta(days=14)
    session.refresh_from_db()
    assert session.seats_taken == 2
    assert company_owes(company_id=company.pk) == 10000
    confirmation = Communication.objects.get(kind=Communication.Kind.BOOKING_CONFIRMATION,
                                             recipient="boss@acme.example")
    assert "Acme Ltd pays on account" in confirmation.body and "PO-77" in confirmation.body
    # The card hold sweep never touches it.
    assert release_expired_holds(now=timezone.now() + timedelta(days=3)) == []


@pytest.mark.parametrize("setup, kwargs, message", [
    ({"approved": False}, {}, "not approved"),
    ({"po": True}, {"purchase_order": "  "}, "purchase order"),
])
def test_booking_on_account_refusals(setup, kwargs, message):
    company = make_company(contacts=["boss@acme.example"], **setup)
    session = SessionFactory(capacity=5)
    with pytest.raises(DomainError, match=message):
        booking_on_account_create(request=on_account_request(session), company_id=company.pk,
                                  **kwargs)
    session.refresh_from_db()
    assert session.seats_taken == 0


def test_only_a_contact_can_book_on_account():
    company = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5)
    with pytest.raises(DomainError, match="Only a contact"):
        booking_on_account_create(request=on_account_request(session, purchaser="x@else.example"),
                                  company_id=company.pk)


def test_credit_limit_counts_what_is_unpaid():
    company = make_company(limit=15000, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=10, price=5000)
    first = booking_on_account_create(request=on_account_request(session, tag="a"),
                                      company_id=company.pk)
    with pytest.raises(CreditLimitError, match="£50.00 is left"):
        booking_on_account_create(request=on_account_request(session, tag="b"),
                                  company_id=company.pk)
    on_account_payment_record(booking_id=first.pk, amount=10000, actor=None)
    booking_on_account_create(request=on_account_request(session, tag="b"),
                              company_id=company.pk)


def test_bank_transfers_partial_then_full(staff):
    company = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000)
    booking = booking_on_account_create(request=on_account_request(session),
                                        company_id=company.pk)
    on_account_payment_record(booking_id=booking.pk, amount=4000, actor=staff, note="BACS 1")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING
    with pytest.raises(ConflictError, match="Only £60.00 is outstanding"):
        on_account_payment_record(booking_id=booking.pk, amount=7000, actor=staff)
    on_account_payment_record(booking_id=booking.pk, amount=6000, actor=staff)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PAID
    payments = Payment.objects.filter(booking=booking).order_by("attempt")
    assert [(p.method, p.amount, p.status) for p in payments] == [
        ("bank_transfer", 4000, "succeeded"), ("bank_transfer", 6000, "succeeded")]
    assert User.objects.get(email="boss@acme.example").total_spent == 10000
    assert ActivityLog.objects.filter(action="payment.bank_transfer_recorded",
                                      actor=staff).count() == 2
    with pytest.raises(ConflictError):
        on_account_payment_record(booking_id=booking.pk, amount=1, actor=staff)


def test_overdue_list_and_reminders_once_each():
    company = make_company(terms=10, contacts=["boss@acme.example", "finance@acme.example"])
    session = SessionFactory(capacity=5, price=5000,
                             starts_at=timezone.now() + timedelta(days=60))
    booking = booking_on_account_create(request=on_account_request(session),
                                        company_id=company.pk)
    now = timezone.now()
    assert list(on_account_overdue()) == []
    # 7 days before the due date: one reminder per person, once.
    assert on_account_send_reminders(now=now + timedelta(days=3)) == 2
    assert on_account_send_reminders(now=now + timedelta(days=4)) == 0
    overdue = list(on_account_overdue(today=timezone.localdate() + timedelta(days=11)))
    assert overdue == [booking] and overdue[0].outstanding == 10000
    assert on_account_send_reminders(now=now + timedelta(days=17)) == 2
    assert on_account_send_reminders(now=now + timedelta(days=18)) == 0
    sent = Communication.objects.filter(kind=Communication.Kind.ON_ACCOUNT_REMINDER)
    assert sorted(sent.values_list("recipient", "dedupe_key")) == [
        ("boss@acme.example", f"{booking.reference}-due-soon"),
        ("boss@acme.example", f"{booking.reference}-overdue"),
        ("finance@acme.example", f"{booking.reference}-due-soon"),
        ("finance@acme.example", f"{booking.reference}-overdue")]
    assert all("£100.00" in body for body in sent.values_list("body", flat=True))


def test_unpaid_bookings_kept_by_default_released_n_days_before_when_set():
    company = make_company(contacts=["boss@acme.example", "finance@acme.example"])
    session = SessionFactory(capacity=5, price=5000,
                             starts_at=timezone.now() + timedelta(days=10))
    unpaid = booking_on_account_create(request=on_account_request(session, tag="u"),
                                       company_id=company.pk)
    partly = booking_on_account_create(request=on_account_request(session, tag="p"),
                                       company_id=company.pk)
    on_account_payment_record(booking_id=partly.pk, amount=100, actor=None)
    later = timezone.now() + timedelta(days=8)
    assert on_account_release_unpaid(now=later) == []  # setting unset: keep seats
    with override_settings(ON_ACCOUNT_UNPAID_RELEASE_DAYS=5):
        assert on_account_release_unpaid(now=timezone.now()) == []  # not yet
        assert on_account_release_unpaid(now=later) == [unpaid.pk]
        assert on_account_release_unpaid(now=later) == []
    unpaid.refresh_from_db()
    assert unpaid.status == Booking.Status.EXPIRED
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 2
    told = Communication.objects.filter(kind=Communication.Kind.ON_ACCOUNT_RELEASED)
    assert sorted(told.values_list("recipient", flat=True)) == [
        "boss@acme.example", "finance@acme.example"]
    # The company is no longer invoiced for seats it does not have.
    invoice = current_invoice(booking_id=unpaid.pk)
    assert invoice.gross_total == 10000 and credited_total(invoice) == 10000
    partly_invoice = current_invoice(booking_id=partly.pk)
    assert credited_total(partly_invoice) == 0  # kept: staff decide


def test_credit_limit_counts_the_discounted_price_not_the_list_price():
    company = make_company(limit=6000, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=10, price=5000)
    DiscountCode.objects.create(code="HALF", percent=50)
    request = dataclasses.replace(on_account_request(session, tag="d"), discount_code="half")
    booking = booking_on_account_create(request=request, company_id=company.pk)
    assert booking.total_amount == 5000  # £100 list, half off: within the £60 limit


def test_a_booking_on_account_counts_as_confirmed_for_reminders_and_seat_changes():
    company = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000,
                             starts_at=timezone.now() + timedelta(hours=30))
    booking = booking_on_account_create(request=on_account_request(session),
                                        company_id=company.pk)
    assert session_reminders() == 2  # each attendee, as for a paid booking
    assert substitution_rules(booking=booking, by_staff=True).allowed


def test_cancelling_a_partly_paid_booking_on_account_frees_seats_and_refunds_by_hand(staff):
    company = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000,
                             starts_at=timezone.now() + timedelta(days=30))
    booking = booking_on_account_create(request=on_account_request(session),
                                        company_id=company.pk)
    on_account_payment_record(booking_id=booking.pk, amount=3000, actor=staff)
    refunds = booking_cancel(booking_id=booking.pk, actor=staff, reason="Course not needed")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 0
    assert [(r.amount, r.status) for r in Refund.objects.filter(pk__in=[r.pk for r in refunds])] \
        == [(3000, "succeeded")]  # staff send it back by bank transfer
    assert company_owes(company_id=company.pk) == 0


def test_a_persons_company_links_are_in_their_data_export_and_go_with_erasure(staff):
    company = make_company(contacts=["boss@acme.example"])
    boss = User.objects.get(email="boss@acme.example")
    company_link_request_create(user=boss, company_name="Acme Group",
                                message="I also book for the parent company.")
    exported = user_export_data(user=boss)
    assert exported["companies"][0]["company"] == "Acme Ltd"
    assert exported["company_link_requests"][0]["message"] == \
        "I also book for the parent company."
    user_anonymise(user=boss, actor=staff)
    assert not CompanyContact.objects.filter(company=company).exists()
    assert not CompanyLinkRequest.objects.exists()


def test_the_daily_beat_task_reminds_and_releases():
    company = make_company(terms=3, contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000,
                             starts_at=timezone.now() + timedelta(days=2))
    booking = booking_on_account_create(request=on_account_request(session),
                                        company_id=company.pk)
    with override_settings(ON_ACCOUNT_UNPAID_RELEASE_DAYS=3):
        assert on_account_daily_task.delay().get() == {"reminders": 1, "released": 1}
    booking.refresh_from_db()
    assert booking.status == Booking.Status.EXPIRED
    assert "on-account-daily" in settings.CELERY_BEAT_SCHEDULE


def test_cancelling_a_place_on_an_unpaid_booking_on_account_credits_its_invoice(staff):
    company = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000,
                             starts_at=timezone.now() + timedelta(days=20))
    booking = booking_on_account_create(
        request=on_account_request(session, tag="x", attendees=3), company_id=company.pk)
    invoice = current_invoice(booking_id=booking.pk)
    assert invoice.gross_total == 15000
    place = booking.attendees.order_by("pk").last()
    attendee_cancel(attendee_id=place.pk, actor=staff, initiator="staff")
    attendee_cancel(attendee_id=place.pk, actor=staff, initiator="staff")  # a double click
    booking.refresh_from_db()
    assert booking.total_amount == 10000
    assert invoice.gross_total - credited_total(invoice) == 10000  # what the company owes
    assert booking_outstanding(booking) == 10000


def test_a_place_cancelled_below_what_was_transferred_pays_the_booking_and_refunds_the_rest(
        staff):
    company = make_company(contacts=["boss@acme.example"])
    session = SessionFactory(capacity=5, price=5000,
                             starts_at=timezone.now() + timedelta(days=20))
    booking = booking_on_account_create(
        request=on_account_request(session, tag="y", attendees=3), company_id=company.pk)
    on_account_payment_record(booking_id=booking.pk, amount=12000, actor=staff)
    place = booking.attendees.order_by("pk").last()
    refunds = attendee_cancel(attendee_id=place.pk, actor=staff, initiator="staff")
    booking.refresh_from_db()
    assert booking.total_amount == 10000 and booking.status == Booking.Status.PAID
    assert [r.amount for r in refunds] == [2000]  # £120 received for £100 of places
    invoice = current_invoice(booking_id=booking.pk)
    assert invoice.gross_total - credited_total(invoice) == 10000
    assert booking_outstanding(booking) == 0
