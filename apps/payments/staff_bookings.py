"""Bookings staff make for a customer (on the phone in admin, or through the staff API):
one rule for both entry points. The booking follows the web's rules (seats, people already
booked); then either the money is recorded as taken by invoice / bank transfer, or the
purchaser is emailed a payment link and the booking stays pending until they pay by card.
It lives in payments because recording the manual payment is a payment write."""

import dataclasses
import uuid
from datetime import datetime

from django.db import connection, models
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.notifications import booking_send_payment_link
from apps.bookings.services import BookingRequest, booking_create
from apps.core.errors import ConflictError
from apps.users.models import User

from .models import Payment
from .services import payment_record_manual

INVOICE_NOTE = "Staff booking, paid by invoice / bank transfer"


class StaffPayment(models.TextChoices):
    INVOICE = "invoice", "Invoice / bank transfer: recorded as paid now"
    CARD = "card", "Card: pending, the purchaser is emailed a payment link"


def staff_booking_create(*, request: BookingRequest, payment: str, actor: User | None,
                         now: datetime | None = None, token_unused: bool = False,
                         session=None) -> Booking:
    """Book for a customer, then pay by invoice or send the payment link.

    `session`: the request's session as the caller has just read it (booking_create).
    `request.submission_token` identifies this staff request (the API's idempotency key;
    a fresh one otherwise): a booking made by an earlier request with the same token is
    returned as it is. When the same people already have a booking waiting for payment on
    this session (made on the website), it is never taken over nor turned from a card
    checkout into an invoice: ConflictError `pending_booking_exists`. A free session is
    confirmed by booking_create and needs neither.
    """
    payment = StaffPayment(payment)
    now = now or timezone.now()
    # A token made here is new; the caller vouches for its own (`token_unused`: the API's
    # Idempotency-Key, checked under its row lock).
    token_unused = token_unused or request.submission_token is None
    token = request.submission_token or uuid.uuid4()
    request = dataclasses.replace(request, submission_token=token, terms_accepted=False)
    booking = booking_create(request=request, actor=actor, now=now, token_unused=token_unused,
                             session=session)
    if booking.submission_token != token:
        raise ConflictError(
            f"These people already have booking {booking.reference} waiting for payment "
            "on this session: pay or cancel that booking instead.",
            code="pending_booking_exists")
    if booking.status != Booking.Status.PENDING:
        return booking  # free (confirmed already), or a repeat of a request that paid it
    if payment == StaffPayment.INVOICE:
        if connection.in_atomic_block and getattr(booking, "created_attendees", None) is not None:
            # Made just now in the caller's transaction, still open: nobody else sees it.
            booking.recorded_payment = payment_record_manual(
                booking=booking, actor=actor, method=Payment.Method.INVOICE,
                note=INVOICE_NOTE, now=now, new_booking=True)
            return booking
        try:
            # Kept on the booking for callers answering from the rows just written.
            booking.recorded_payment = payment_record_manual(
                booking=booking, actor=actor, method=Payment.Method.INVOICE,
                note=INVOICE_NOTE, now=now)
        except ConflictError:
            # A concurrent repeat of the same request recorded it first.
            booking.refresh_from_db()
            if booking.status != Booking.Status.PAID:
                raise
        booking.refresh_from_db()
        return booking
    booking_send_payment_link(booking)  # once per booking: the outbox dedupes by reference
    return booking
