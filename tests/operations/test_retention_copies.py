"""Retention reaches every copy of a person's data (issue #24 item 10): after 7 years the
sent emails of the booking (recipients, bodies, attachments) and the stored Stripe event
payloads lose their personal part too; activity entries about money are kept 7 years,
other activity 2 years."""

import json
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from apps.core.models import Communication
from apps.operations.retention import (
    anonymise_old_copies,
    purge_activity_logs,
    retention_purge,
)
from apps.payments.models import PaymentEvent, StripeEvent
from apps.users.models import ActivityLog
from tests.factories import SessionFactory
from tests.operations.test_purge import booking_paid_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


def test_money_activity_is_kept_seven_years_other_activity_two(now):
    def log(action, age):
        return ActivityLog.objects.create(action=action, created_at=now - age).pk

    three_years = relativedelta(years=3)
    kept = {log(action, three_years) for action in (
        "payment.recorded_manually", "refund.succeeded", "dispute.created", "invoice.issued",
        "credit_note.issued")}
    kept.add(log("booking.cancelled", relativedelta(years=2)))  # exactly 2 years: kept
    log("booking.cancelled", three_years)
    log("user.role_changed", three_years)
    log("refund.succeeded", relativedelta(years=7, days=1))
    log("payment.succeeded", relativedelta(years=7, days=1))
    kept.add(log("payment.succeeded", relativedelta(years=7)))

    assert purge_activity_logs(now=now, dry_run=True) == 4
    assert purge_activity_logs(now=now) == 4
    assert set(ActivityLog.objects.values_list("pk", flat=True)) == kept


def email(booking, recipient, body):
    return Communication.objects.create(
        kind="booking_confirmation", recipient=recipient, booking=booking,
        subject=f"Booking confirmed ({booking.reference})", body=body,
        attachments=[{"filename": "x.ics", "mimetype": "text/calendar",
                      "content": f"ATTENDEE;CN=Buyer One:mailto:{recipient}"}],
        dedupe_key=f"test:{booking.reference}:{recipient}", last_error=f"550 {recipient}")


def test_seven_year_anonymisation_reaches_the_bookings_sent_emails(now):
    session = SessionFactory(capacity=20)
    old = booking_paid_at(session, "old@example.com", now - relativedelta(years=7, days=1))
    young = booking_paid_at(session, "young@example.com", now - timedelta(days=10))
    old_email = email(old, "old@example.com", "Hello Buyer One, Acme Ltd, old@example.com")
    young_email = email(young, "young@example.com", "Hello Buyer One")
    old_ids = set(Communication.objects.filter(booking=old).values_list("pk", flat=True))

    result = retention_purge(now=now)

    assert result["emails anonymised"] == len(old_ids) >= 1
    for sent in Communication.objects.filter(pk__in=old_ids):
        text = json.dumps([sent.recipient, sent.body, sent.attachments, sent.last_error])
        assert "old@example.com" not in text and "Buyer One" not in text, text
        assert sent.recipient.endswith("@deleted.invalid")
    old_email.refresh_from_db()
    assert old_email.subject == f"Booking confirmed ({old.reference})"  # what was sent, when
    young_email.refresh_from_db()
    assert (young_email.recipient, young_email.body) == ("young@example.com", "Hello Buyer One")
    assert anonymise_old_copies(now=now)["emails"] == 0


def stripe_event(stripe_id, received_at, email_address):
    event = StripeEvent.objects.create(
        stripe_id=stripe_id, type="charge.succeeded", object_id="ch_1",
        payload={"id": stripe_id, "type": "charge.succeeded", "created": 1,
                 "data": {"object": {
                     "id": "ch_1", "object": "charge", "amount": 9500, "currency": "gbp",
                     "status": "succeeded", "payment_intent": "pi_1",
                     "receipt_email": email_address,
                     "billing_details": {"name": "Buyer One", "email": email_address,
                                         "address": {"postal_code": "N1 1AA"}},
                     "payment_method_details": {"card": {"last4": "4242"}}}}})
    StripeEvent.objects.filter(pk=event.pk).update(received_at=received_at)
    return event


def test_stripe_event_payloads_older_than_seven_years_keep_the_accounting_only(now):
    old = stripe_event("evt_old", now - relativedelta(years=7, days=1), "old@example.com")
    young = stripe_event("evt_young", now - timedelta(days=1), "young@example.com")

    assert anonymise_old_copies(now=now, dry_run=True)["stripe events"] == 1
    assert anonymise_old_copies(now=now)["stripe events"] == 1

    old.refresh_from_db()
    text = json.dumps(old.payload)
    for personal in ("old@example.com", "Buyer One", "N1 1AA", "4242"):
        assert personal not in text
    charge = old.payload["data"]["object"]
    assert (old.payload["id"], old.payload["type"]) == ("evt_old", "charge.succeeded")
    assert (charge["id"], charge["amount"], charge["currency"], charge["status"],
            charge["payment_intent"]) == ("ch_1", 9500, "gbp", "succeeded", "pi_1")
    young.refresh_from_db()
    assert young.payload["data"]["object"]["receipt_email"] == "young@example.com"
    assert anonymise_old_copies(now=now)["stripe events"] == 0


def test_payment_event_notes_and_messages_go_after_seven_years(now):
    old = booking_paid_at(SessionFactory(), "old@example.com",
                          now - relativedelta(years=7, days=1))
    event = PaymentEvent.objects.filter(payment__booking=old).first()
    PaymentEvent.objects.filter(pk=event.pk).update(
        data={"note": "paid by Buyer One's mum", "message": "Card of Buyer One declined",
              "amount": 9500})

    anonymise_old_copies(now=now)

    event.refresh_from_db()
    assert event.data == {"amount": 9500}
