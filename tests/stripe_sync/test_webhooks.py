import time
from unittest import mock

import pytest

from apps.bookings.models import Booking
from apps.core.models import Communication
from apps.payments.models import Payment, PaymentEvent, StripeEvent
from apps.stripe_sync import tasks, webhooks
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import deliver, intent_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment():
    booking = make_booking(SessionFactory(price=9500), seats=2)
    return Payment.objects.create(booking=booking, user=booking.purchaser, amount=19000,
                                  currency="GBP", stripe_payment_intent_id="pi_test_1")


def test_valid_signature_is_accepted_and_the_payment_confirmed(client, payment):
    response = deliver(client, intent_event("pi_test_1", amount=19000))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    payment.refresh_from_db()
    booking = Booking.objects.get(pk=payment.booking_id)
    assert payment.status == "succeeded" and booking.status == "paid"
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 19000 and booking.purchaser.total_bookings == 1
    recipients = set(Communication.objects.filter(kind="booking_confirmation")
                     .values_list("recipient", flat=True))
    assert recipients == {a.email for a in booking.attendees.all()}
    assert StripeEvent.objects.get().status == "processed"


@pytest.mark.parametrize("case", ["forged", "wrong_secret", "missing", "stale", "garbage"])
def test_bad_signatures_are_rejected_and_nothing_is_stored(client, payment, case):
    event = intent_event("pi_test_1", amount=19000)
    kwargs = {
        "forged": {"signature": f"t={int(time.time())},v1={"0" * 64}"},
        "wrong_secret": {"secret": "whsec_someone_else"},  # pragma: allowlist secret
        "missing": {"signature": ""},
        "stale": {"timestamp": int(time.time()) - 3600},
        "garbage": {"signature": "nonsense"},
    }[case]
    response = deliver(client, event, **kwargs)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_signature"
    assert StripeEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == "requires_payment"


def test_tampered_payload_is_rejected(client, payment):
    import json

    import stripe
    from django.conf import settings

    event = intent_event("pi_test_1", amount=19000)
    header = stripe.WebhookSignature.generate_signature_header(
        json.dumps(event), settings.STRIPE_WEBHOOK_SECRET)
    event["data"]["object"]["amount"] = 1
    response = client.post("/webhooks/stripe/", data=json.dumps(event),
                           content_type="application/json", headers={"Stripe-Signature": header})
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_the_same_event_twice_is_processed_once(client, payment):
    event = intent_event("pi_test_1", amount=19000)
    assert deliver(client, event).json()["duplicate"] is False
    assert deliver(client, event).json()["duplicate"] is True
    assert StripeEvent.objects.count() == 1
    payment.refresh_from_db()
    payment.user.refresh_from_db()
    assert payment.user.total_spent == 19000
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.succeeded").count() == 1
    assert Communication.objects.filter(kind="booking_confirmation").count() == 2


def test_two_different_success_events_for_one_intent_count_the_money_once(client, payment):
    deliver(client, intent_event("pi_test_1", amount=19000))
    deliver(client, intent_event("pi_test_1", amount=19000))
    payment.user.refresh_from_db()
    assert StripeEvent.objects.count() == 2
    assert payment.user.total_spent == 19000
    assert payment.user.total_bookings == 1


def test_late_payment_failed_never_downgrades_a_succeeded_payment(client, payment):
    deliver(client, intent_event("pi_test_1", amount=19000))
    deliver(client, intent_event("pi_test_1", type="payment_intent.payment_failed",
                                 error="Your card was declined."))
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert Booking.objects.get(pk=payment.booking_id).status == "paid"
    assert PaymentEvent.objects.filter(payment=payment, kind="payment.failed_ignored").exists()


def test_payment_failed_marks_the_payment_failed_and_keeps_the_booking_pending(client, payment):
    deliver(client, intent_event("pi_test_1", type="payment_intent.payment_failed",
                                 error="Your card has insufficient funds."))
    payment.refresh_from_db()
    assert payment.status == "failed"
    assert payment.failure_message == "Your card has insufficient funds."
    assert Booking.objects.get(pk=payment.booking_id).status == "pending"


def test_success_after_a_failure_event_still_pays(client, payment):
    deliver(client, intent_event("pi_test_1", type="payment_intent.payment_failed", error="No"))
    deliver(client, intent_event("pi_test_1", amount=19000))
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_intent_matched_by_metadata_when_we_have_not_stored_its_id_yet(client, payment):
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id=None)
    deliver(client, intent_event("pi_new", amount=19000, metadata={"payment_id": str(payment.pk)}))
    payment.refresh_from_db()
    assert payment.stripe_payment_intent_id == "pi_new"
    assert payment.status == "succeeded"


def test_event_for_an_unknown_intent_is_recorded_and_parked(client, payment):
    response = deliver(client, intent_event("pi_nobody_knows"))
    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.status == "parked"
    assert "pi_nobody_knows" in stored.last_error
    payment.refresh_from_db()
    assert payment.status == "requires_payment"


def test_event_types_we_do_not_handle_are_acknowledged_and_kept(client):
    event = intent_event("cus_1", type="customer.created")
    assert deliver(client, event).status_code == 200
    assert StripeEvent.objects.get().status == "processed"


def test_processing_failure_is_retried_then_parked_for_staff(
        client, payment, django_capture_on_commit_callbacks, celery_as_a_worker):
    calls = []

    def broken(stored):
        calls.append(stored.pk)
        raise RuntimeError("database hiccup")

    with mock.patch.dict(webhooks.HANDLERS, {"payment_intent.succeeded": broken}):
        response = deliver(client, intent_event("pi_test_1", amount=19000))
    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert len(calls) == 1 + 5  # first try and five retries
    assert stored.status == "parked"
    assert "database hiccup" in stored.last_error
    assert stored.attempts == 6

    # Staff fix the cause and reprocess from admin: it is applied once.
    with django_capture_on_commit_callbacks(execute=True):
        count = tasks.stripe_event_requeue(event_ids=[stored.pk])
    assert count == 1
    stored.refresh_from_db()
    assert stored.status == "processed"
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_admin_reprocess_action(admin_client, payment, django_capture_on_commit_callbacks):
    deliver(admin_client, intent_event("pi_unknown_yet", amount=19000,
                                       event_id="evt_later_known"))
    stored = StripeEvent.objects.get()
    assert stored.status == "parked"
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_unknown_yet")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/payments/stripeevent/", {
            "action": "reprocess", "_selected_action": [stored.pk]}, follow=True)
    assert response.status_code == 200
    assert "1 event queued" in response.content.decode()
    stored.refresh_from_db()
    assert stored.status == "processed"
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_get_is_not_allowed(client):
    assert client.get("/webhooks/stripe/").status_code == 405


def test_confirmation_emails_carry_the_reference_and_a_calendar_invite(
        client, payment, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, intent_event("pi_test_1", amount=19000))
    booking = Booking.objects.get(pk=payment.booking_id)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        a.email for a in booking.attendees.all())
    for message in mailoutbox:
        assert booking.reference in message.subject and booking.reference in message.body
        (name, content, mimetype), = message.attachments
        assert name == f"{booking.reference}.ics" and mimetype == "text/calendar"
        assert "BEGIN:VEVENT" in content and booking.session.course.title in content
    assert set(Communication.objects.values_list("status", flat=True)) == {"sent"}
