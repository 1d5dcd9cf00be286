"""Waiting-list pages: join a sold-out session, claim an offer, leave the list.

Thin: forms parse, apps.bookings.waitlist and booking_create decide."""

import copy

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_ratelimit.core import is_ratelimited
from django_ratelimit.exceptions import Ratelimited

from apps.bookings.models import WaitingListEntry, WaitingListOffer
from apps.bookings.selectors import remember_booking_in_session
from apps.bookings.services import booking_create
from apps.bookings.waitlist import (
    offer_closed_message,
    waitlist_entry_from_token,
    waitlist_entry_leave,
    waitlist_join,
    waitlist_offer_expire,
    waitlist_offer_from_token,
    waitlist_position,
    waitlist_session_open,
)
from apps.core.errors import DomainError
from apps.sessions.selectors import session_for_page

from .forms import BookingForm

CONSENT = ("Email me about seats on this session. My name and email are kept only for "
           "this waiting list, and I can leave it at any time.")


def _limit(request, *, group: str, rate: str) -> None:
    # key="ip": django-ratelimit reads the address apps.core.client_address vouches for.
    if is_ratelimited(request, group=group, key="ip", rate=rate, increment=True):
        raise Ratelimited()


class JoinForm(forms.Form):
    name = forms.CharField(max_length=200, label="Your name")
    email = forms.EmailField(max_length=254, label="Email",
                             help_text="We write here when seats free up.")
    seats = forms.IntegerField(label="Seats wanted", min_value=1)
    consent = forms.BooleanField(
        label=CONSENT,
        error_messages={"required": "Please tick the box: we can only tell you about free "
                                    "seats by email."})

    def __init__(self, *args, session, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seats"].max_value = session.capacity
        self.fields["seats"].widget.attrs.update(min=1, max=session.capacity)
        self.fields["seats"].validators.append(_at_most(session.capacity))


def _at_most(capacity):
    def check(value):
        if value is not None and value > capacity:
            raise ValidationError(f"This session has {capacity} seats in all: ask for "
                                  f"at most {capacity}.")
    return check


@require_http_methods(["GET", "POST"])
def join(request, session_id):
    session = session_for_page(session_id=session_id)
    if session is None:
        raise Http404("No such session.")
    if request.method == "GET":
        initial = {"seats": 1}
        if request.user.is_authenticated:
            initial.update(name=request.user.full_name, email=request.user.email)
        form = JoinForm(initial=initial, session=session)
        return render(request, "waitlist/join.html", {
            "session": session, "form": form, "open": waitlist_session_open(session),
            "offer_hours": settings.WAITLIST_OFFER_HOURS})
    _limit(request, group="waitlist-join", rate=settings.WAITLIST_RATE_LIMIT)
    form = JoinForm(request.POST, session=session)
    if form.is_valid():
        try:
            entry = waitlist_join(session_id=session.pk, name=form.cleaned_data["name"],
                                  email=form.cleaned_data["email"],
                                  seats=form.cleaned_data["seats"])
        except DomainError as error:
            form.add_error(None, ValidationError(error.message, code=error.code))
        else:
            return render(request, "waitlist/joined.html", {
                "session": session, "entry": entry, "position": waitlist_position(entry)})
    conflict = any(form.has_error("__all__", code) for code in ("seats_free", "session_closed"))
    return render(request, "waitlist/join.html", {
        "session": session, "form": form, "open": waitlist_session_open(session),
        "offer_hours": settings.WAITLIST_OFFER_HOURS}, status=409 if conflict else 200)


class OfferBookingForm(BookingForm):
    """The booking form with the offer's seats: exactly that many, always "available"
    (they are reserved for this person, so the session's seats left do not apply)."""

    def __init__(self, *args, offer, **kwargs):
        # The form reads seats_left: the offer's own seats count as free for its holder.
        session = copy.copy(offer.session)
        session.seats_taken = max(session.seats_taken - offer.seats, 0)
        super().__init__(*args, session=session, **kwargs)
        self.fields["seats"].choices = [(offer.seats, str(offer.seats))]
        self.fields["seats"].initial = offer.seats


def _offer_or_404(token):
    offer = waitlist_offer_from_token(token)
    if offer is None:
        raise Http404("This waiting-list link is not valid (it may be too old).")
    if offer.status == WaitingListOffer.Status.LIVE and offer.expires_at <= timezone.now():
        # Beat expires offers every minute; the page does not wait for it.
        waitlist_offer_expire(offer_id=offer.pk)
        offer.refresh_from_db()
    return offer


def _initial_from_offer(offer):
    first, _, last = offer.entry.name.partition(" ")
    return {"seats": offer.seats, "email": offer.entry.email, "first_name": first,
            "last_name": last.strip(), "attendee_1_name": offer.entry.name,
            "attendee_1_email": offer.entry.email}


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def offer(request, token):
    offer = _offer_or_404(token)
    context = {"offer": offer, "session": offer.session, "token": token}
    if offer.status != WaitingListOffer.Status.LIVE:
        context["closed_message"] = offer_closed_message(offer)
        return render(request, "waitlist/offer.html", context,
                      status=200 if offer.status == WaitingListOffer.Status.CLAIMED else 410)
    context["seconds_left"] = max(0, int((offer.expires_at - timezone.now()).total_seconds()))
    if request.method == "GET":
        context["form"] = OfferBookingForm(initial=_initial_from_offer(offer), offer=offer)
        return render(request, "waitlist/offer.html", context)

    if request.htmx:
        _limit(request, group="booking-validate", rate=settings.BOOKING_VALIDATE_RATE_LIMIT)
    else:
        _limit(request, group="booking-submit", rate=settings.BOOKING_RATE_LIMIT)
    form = OfferBookingForm(request.POST, offer=offer)
    context["form"] = form
    if request.htmx:
        form.is_valid()
        form.errors_for_filled_fields()
        return render(request, "bookings/_booking_form_fields.html",
                      {**context, "session": form.session})
    status = 200
    if form.is_valid():
        try:
            booking = booking_create(request=form.to_request(session_id=offer.session_id),
                                     actor=request.user if request.user.is_authenticated
                                     else None, waitlist_offer_id=offer.pk)
        except DomainError as error:
            form.add_error(None, ValidationError(error.message, code=error.code))
            status = 409 if error.status == 409 else 200
        else:
            remember_booking_in_session(request, booking)
            return redirect(booking.get_absolute_url())
    form.focus_first_error()
    return render(request, "waitlist/offer.html", context, status=status)


@require_http_methods(["GET", "POST"])
def leave(request, token):
    entry = waitlist_entry_from_token(token)
    if entry is None:
        raise Http404("This waiting-list link is not valid.")
    left = False
    if request.method == "POST":
        waitlist_entry_leave(entry_id=entry.pk)
        entry.refresh_from_db()
        left = True
    return render(request, "waitlist/leave.html", {
        "entry": entry, "session": entry.session, "left": left,
        "on_list": entry.status in (WaitingListEntry.Status.WAITING,
                                    WaitingListEntry.Status.OFFERED)})
