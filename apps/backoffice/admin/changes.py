"""Staff changes to a booking, each with a confirmation page that states the consequence:
moving it to another date (`admin:bookings_booking_transfer`, by booking id) and
cancelling one attendee's place (`admin:bookings_booking_cancel_attendee`, by attendee
id). Registered through BookingAdmin.get_urls; the services decide (apps.refunds.changes)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.refunds.changes import (
    STAFF,
    attendee_cancel,
    attendee_cancel_quote,
    booking_balance_due,
    booking_transfer,
    refund_destination,
    transfer_options,
)


def when(session) -> str:
    start = timezone.localtime(session.starts_at)
    return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M}"


def transfer_consequence(booking: Booking, quote) -> str:
    """"Move BK-… to Tue 8 Dec 2026, 09:00; refund £20.00 to Visa •••• 4242"."""
    text = f"Move {booking.reference} to {when(quote.target)}"
    if quote.refund:
        return (f"{text}; refund {format_money(quote.refund, quote.currency)} to "
                f"{refund_destination(booking)}")
    if quote.owed:
        return f"{text}; charge {format_money(quote.owed, quote.currency)} more"
    return f"{text}; {quote.consequence()}"


def change_urls(model_admin) -> list:
    wrap = model_admin.admin_site.admin_view
    return [
        path("<int:booking_id>/transfer/", wrap(lambda request, booking_id: transfer_view(
            model_admin, request, booking_id)), name="bookings_booking_transfer"),
        path("attendee/<int:attendee_id>/cancel/", wrap(
            lambda request, attendee_id: cancel_attendee_view(model_admin, request,
                                                              attendee_id)),
            name="bookings_booking_cancel_attendee"),
    ]


def _context(model_admin, request, **extra):
    return {**model_admin.admin_site.each_context(request), "opts": Booking._meta, **extra}


def transfer_view(model_admin, request, booking_id):
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    booking = get_object_or_404(Booking.objects.select_related("session__course"),
                                 pk=booking_id)
    options = transfer_options(booking=booking, initiator=STAFF)
    chosen = request.POST.get("session") or request.GET.get("session")
    quote = next((q for q in options if str(q.target.pk) == chosen), None)
    if request.method == "POST" and quote is not None:
        try:
            done = booking_transfer(
                booking_id=booking.pk, to_session_id=quote.target.pk, actor=request.user,
                initiator=STAFF,
                confirmed_difference=int(request.POST.get("difference", "x"))
                if request.POST.get("difference", "").lstrip("-").isdigit() else None)
        except DomainError as error:
            model_admin.message_user(request, error.message, messages.ERROR)
        else:
            booking.refresh_from_db()
            model_admin.message_user(request, f"{transfer_consequence(booking, done)}: done. "
                                              "Everyone on it has been sent the new date "
                                              "with an updated calendar invitation.")
            return redirect("admin:bookings_booking_change", booking.pk)
    return TemplateResponse(request, "admin/bookings/transfer.html", _context(
        model_admin, request, booking=booking, title=f"Move {booking.reference} to another date",
        options=[(q, transfer_consequence(booking, q)) for q in options], quote=quote,
        consequence=transfer_consequence(booking, quote) if quote else "",
        balance_due=booking_balance_due(booking=booking)))


def cancel_attendee_view(model_admin, request, attendee_id):
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    attendee = get_object_or_404(Attendee.all_objects.select_related("booking__session"),
                                 pk=attendee_id)
    booking = attendee.booking
    if attendee.cancelled_at is not None:
        model_admin.message_user(request, f"{attendee.name}'s place was already cancelled.",
                                 messages.WARNING)
        return redirect("admin:bookings_booking_change", booking.pk)
    quote = attendee_cancel_quote(attendee=attendee, initiator=STAFF)
    consequence = (f"Cancel {attendee.name}'s place on {booking.reference}; "
                   + (f"refund {quote.amount_display} to {refund_destination(booking)}"
                      if quote.amount else "no refund"))
    problem = ""
    if booking.seats <= 1:
        problem = (f"{attendee.name} has the only place left on {booking.reference}: cancel "
                   "the whole booking instead (the “Cancel and refund in full” action).")
    if request.method == "POST" and not problem:
        try:
            refunds = attendee_cancel(
                attendee_id=attendee.pk, actor=request.user, initiator=STAFF,
                confirmed_amount=int(request.POST["amount"])
                if request.POST.get("amount", "").isdigit() else None)
        except DomainError as error:
            problem = error.message
        else:
            back = sum(r.amount for r in refunds)
            model_admin.message_user(request, f"{attendee.name}'s place on {booking.reference}"
                                              f" is cancelled; "
                                              f"{format_money(back, booking.currency)} refunded"
                                              " to " + refund_destination(booking) + "."
                                     if back else f"{attendee.name}'s place is cancelled; no "
                                                  "refund.")
            return redirect("admin:bookings_booking_change", booking.pk)
    return TemplateResponse(request, "admin/bookings/cancel_attendee.html", _context(
        model_admin, request, booking=booking, attendee=attendee, quote=quote,
        consequence=consequence, problem=problem,
        title=f"Cancel {attendee.name}'s place on {booking.reference}"))
