"""The purchaser changes their booking in the portal: another date of the same course,
or one colleague's place cancelled. Each shows the consequence (price difference, refund)
and asks for a confirmation; the services decide under their locks."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apps.bookings.models import Booking
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.refunds.changes import (
    CUSTOMER,
    attendee_cancel,
    attendee_cancel_quote,
    booking_transfer,
    refund_destination,
    transfer_cutoff,
    transfer_options,
)
from apps.refunds.selectors import customer_booking


def _purchasers_booking(request, reference) -> Booking:
    booking = customer_booking(user=request.user, reference=reference)
    if booking is None or booking.purchaser_id != request.user.pk:
        raise Http404("No booking with that reference is yours.")
    return booking


def _int(value):
    value = (value or "").strip()
    return int(value) if value.lstrip("-").isdigit() and len(value) < 12 else None


@login_required
@require_http_methods(["GET", "POST"])
def portal_transfer(request, reference):
    booking = _purchasers_booking(request, reference)
    options = transfer_options(booking=booking, initiator=CUSTOMER)
    chosen = _int(request.POST.get("session") or request.GET.get("session"))
    quote = next((q for q in options if q.target.pk == chosen), None)
    problem = ""
    if request.method == "POST" and quote is not None:
        try:
            done = booking_transfer(booking_id=booking.pk, to_session_id=quote.target.pk,
                                    actor=request.user, initiator=CUSTOMER,
                                    confirmed_difference=_int(request.POST.get("difference")))
        except DomainError as error:
            problem = error.message
            options = transfer_options(booking=booking, initiator=CUSTOMER)
            quote = next((q for q in options if q.target.pk == chosen), None)
        else:
            start = timezone.localtime(done.target.starts_at)
            told = f"Booking {booking.reference} is now on {start:%A} {start.day} {start:%B}."
            if done.refund:
                told += (f" {format_money(done.refund, done.currency)} will be refunded to "
                         f"{refund_destination(booking)}.")
            elif done.owed:
                told += f" {format_money(done.owed, done.currency)} is still to pay."
            messages.success(request, told + " Everyone on it has been sent the new date.")
            return redirect("portal:booking", booking.reference)
    elif request.method == "POST":
        problem = "That date is no longer available: please choose another."
    return render(request, "portal/transfer.html", {
        "booking": booking, "options": options, "quote": quote, "problem": problem,
        "cutoff": transfer_cutoff(booking=booking),
        "can_transfer_now": timezone.now() <= transfer_cutoff(booking=booking),
        "refund_to": refund_destination(booking)})


@login_required
@require_http_methods(["GET", "POST"])
def portal_cancel_attendee(request, reference, attendee_id):
    booking = _purchasers_booking(request, reference)
    attendee = next((a for a in booking.attendees.all() if a.pk == attendee_id), None)
    if attendee is None:
        raise Http404("No such place on this booking.")
    quote = attendee_cancel_quote(attendee=attendee, initiator=CUSTOMER)
    problem = ""
    if booking.seats <= 1:
        problem = (f"{attendee.name} has the only place left on this booking: cancel the "
                   "whole booking instead.")
    elif request.method == "POST":
        try:
            refunds = attendee_cancel(attendee_id=attendee.pk, actor=request.user,
                                      initiator=CUSTOMER,
                                      confirmed_amount=_int(request.POST.get("amount")))
        except DomainError as error:
            problem = error.message
            quote = attendee_cancel_quote(attendee=attendee, initiator=CUSTOMER)
        else:
            back = sum(r.amount for r in refunds)
            money = (f"{format_money(back, booking.currency)} will be refunded to "
                     f"{refund_destination(booking)}." if back else "No refund is due.")
            messages.success(request, f"{attendee.name}'s place is cancelled and they have "
                                      f"been told. {money}")
            return redirect("portal:booking", booking.reference)
    return render(request, "portal/cancel_attendee.html", {
        "booking": booking, "attendee": attendee, "quote": quote, "problem": problem,
        "refund_to": refund_destination(booking)})
