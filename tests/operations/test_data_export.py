"""Issue #28.5 (and the export part of #21.12): the data export holds every piece of
personal data we keep about the person, and marketing consent has a history."""

import json
from datetime import date

import pytest
from django.test import Client
from django.utils import timezone

from apps.certificates.models import Certificate
from apps.core.models import Communication
from apps.payments.services import payment_record_manual
from apps.refunds.services import refund_create
from apps.users.models import MarketingConsentChange, User, UserNote
from tests.factories import SessionFactory, UserFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def pat():
    booking = make_booking(SessionFactory(price=5000), email="pat@example.com", seats=2)
    payment_record_manual(booking=booking, actor=None)
    booking.refresh_from_db()
    refund_create(payment=booking.payments.get(), amount=1500, initiator="staff",
                  reason="Goodwill: trainer was late")
    purchaser = booking.purchaser
    staff = UserFactory(email="support@example.com", role=User.Role.SUPPORT, is_staff=True)
    UserNote.objects.create(user=purchaser, author=staff, text="Prefers morning calls")
    attendee = booking.attendees.get(user=purchaser)
    Certificate.objects.create(
        attendee=attendee, user=purchaser, course=booking.session.course,
        session=booking.session, holder_name="Buyer One", issued_on=date(2026, 1, 5),
        number="CERT-EXPORT01", revoked_at=timezone.now(), revoked_reason="Issued in error")
    Communication.objects.create(kind=Communication.Kind.BOOKING_CONFIRMATION,
                                 recipient="pat@example.com", user=purchaser, booking=booking,
                                 subject="Your booking", body="Dear Pat, see you there.")
    return purchaser


def _export(user):
    client = Client()
    client.force_login(user)
    return json.loads(client.get("/portal/data.json").content)


def test_export_holds_notes_activity_emails_refunds_and_revocations(pat):
    data = _export(pat)
    assert [n["text"] for n in data["staff_notes"]] == ["Prefers morning calls"]
    assert "support@example.com" not in json.dumps(data["staff_notes"])
    assert any(entry["action"] == "refund.requested" for entry in data["activity"])
    [email] = [e for e in data["emails"] if e["subject"] == "Your booking"]
    assert email["recipient"] == "pat@example.com"
    assert email["body"] == "Dear Pat, see you there."
    [refund] = data["bookings"][0]["payments"][0]["refunds"]
    assert refund["currency"] == "GBP" and refund["reason"] == "Goodwill: trainer was late"
    [certificate] = data["certificates"]
    assert certificate["revoked_reason"] == "Issued in error" and certificate["revoked_at"]
    # Decided: the purchaser's export names the people they booked for.
    assert {a["email"] for a in data["bookings"][0]["attendees"]} == {
        "pat@example.com", "guest1.pat@example.com"}


def test_marketing_consent_changes_are_kept_and_exported(pat):
    client = Client()
    client.force_login(pat)
    profile = {"first_name": "Pat", "last_name": "Lee", "phone": "", "company_name": ""}
    assert client.post("/portal/profile/", {**profile, "marketing_consent": "on"}) \
        .status_code == 302
    client.post("/portal/profile/", profile)  # withdrawn
    client.post("/portal/profile/", profile)  # no change: no new row
    pat.refresh_from_db()
    assert pat.marketing_consent is False and pat.first_name == "Pat"
    history = _export(pat)["marketing_consent_history"]
    assert [(h["given"], h["how"]) for h in history] == [
        (True, "Customer portal profile"), (False, "Customer portal profile")]
    assert history[0]["at"] <= history[1]["at"]


def test_consent_changed_by_staff_in_admin_is_recorded(admin_client):
    from tests.backoffice.test_customer_profile_admin import hidden_fields

    pat = User.objects.create_user(email="pat.admin@example.com")

    page = admin_client.get(f"/admin/users/user/{pat.pk}/change/").content.decode()
    form = {**hidden_fields(page), "email": pat.email, "first_name": "Pat", "last_name": "",
            "phone": "", "company_name": "", "role": "customer", "is_active": "on",
            "marketing_consent": "on"}
    response = admin_client.post(f"/admin/users/user/{pat.pk}/change/", form)
    assert response.status_code == 302
    pat.refresh_from_db()
    assert pat.marketing_consent is True
    change = MarketingConsentChange.objects.get(user=pat)
    assert change.given is True and change.source == "admin"
    assert change.actor.email == "admin@example.com"


def test_export_holds_the_terms_accepted_and_disputes(pat):
    from apps.bookings.models import Booking
    from apps.legal.services import legal_document_create
    from apps.payments.models import Dispute

    booking = Booking.objects.get(purchaser=pat)
    terms = legal_document_create(kind="terms", body="Be kind.", published_at=timezone.now())
    Booking.objects.filter(pk=booking.pk).update(terms_document=terms,
                                                 terms_accepted_at=timezone.now())
    Dispute.objects.create(payment=booking.payments.get(), stripe_dispute_id="du_export1",
                           amount=5000, currency="GBP", reason="fraudulent",
                           status="needs_response")

    exported = _export(pat)["bookings"][0]

    assert exported["terms_accepted"]["version"] == terms.version
    assert exported["terms_accepted"]["at"]
    (dispute,) = exported["payments"][0]["disputes"]
    assert (dispute["amount"], dispute["reason"], dispute["status"]) == (
        5000, "fraudulent", "needs_response")
