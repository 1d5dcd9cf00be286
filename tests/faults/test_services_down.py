"""Faults caused for real: a broker nobody answers on, a cache nobody answers on."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.bookings.models import Booking
from apps.payments.models import Payment, StripeEvent
from apps.stripe_sync.tasks import stripe_events_sweep
from tests.conftest import reset_celery_connections
from tests.factories import SessionFactory, make_booking
from tests.payments.helpers import deliver, intent_event

DEAD = "redis://127.0.0.1:1/0"


@pytest.fixture
def celery_broker_down():
    """The in-process Celery app really sends (no eager mode) to a port with no broker."""
    from config.celery import app

    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager",
                                             "broker_connection_timeout",
                                             "broker_transport_options")}
    app.conf.update(broker_url=DEAD, task_always_eager=False, broker_connection_timeout=1,
                    broker_transport_options={"max_retries": 0, "socket_connect_timeout": 1})
    reset_celery_connections(app)
    yield app
    app.conf.update(saved)
    reset_celery_connections(app)


@pytest.mark.django_db
def test_webhook_is_stored_and_acknowledged_when_the_broker_is_down_then_swept_once(
        client, celery_broker_down):
    booking = make_booking(SessionFactory(price=9500))
    payment = Payment.objects.create(booking=booking, user=booking.purchaser, amount=9500,
                                     stripe_payment_intent_id="pi_broker")
    response = deliver(client, intent_event("pi_broker", amount=9500))
    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.status == "pending"  # kept, not lost, not processed yet

    # The broker is back (here: eager processing stands in for the worker) and the beat
    # sweeper finds the event.
    celery_broker_down.conf.task_always_eager = True
    StripeEvent.objects.filter(pk=stored.pk).update(
        received_at=timezone.now() - timedelta(minutes=5))
    assert stripe_events_sweep() == 1
    assert stripe_events_sweep() == 0
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert Booking.objects.get(pk=booking.pk).status == "paid"
    booking.purchaser.refresh_from_db()
    assert booking.purchaser.total_spent == 9500


@pytest.mark.django_db
def test_pages_and_booking_work_when_redis_is_down(client):
    session = SessionFactory(capacity=5)
    dead_cache = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": DEAD,
                              "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2,
                                          "IGNORE_EXCEPTIONS": True}}}
    with override_settings(CACHES=dead_cache):
        assert client.get("/").status_code == 200
        assert client.get(f"/sessions/{session.pk}/").status_code == 200
        data = {"seats": "1", "first_name": "Ann", "last_name": "Lee",
                "email": "ann@example.com", "submission_token": "7a3f4c1e-0000-4000-8000-"
                "000000000001", "attendee_1_name": "Ann Lee",
                "attendee_1_email": "ann@example.com", "accept_terms": "on"}
        response = client.post(f"/sessions/{session.pk}/book/", data)
        assert response.status_code == 302
        assert client.get("/healthz").status_code == 503
    assert Booking.objects.filter(session=session).count() == 1
