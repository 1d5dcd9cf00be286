from django.conf import settings
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_ratelimit.core import is_ratelimited
from django_ratelimit.exceptions import Ratelimited

from apps.bookings.models import Booking
from apps.bookings.notifications import payment_link_reference
from apps.bookings.selectors import (
    booking_visible_to,
    remember_booking_in_session,
)
from apps.bookings.services import AlreadyBookedError, booking_create
from apps.companies.selectors import invoice_companies_of
from apps.core.errors import DomainError
from apps.payments.balance import balance_in_flight, payment_pay_balance
from apps.payments.holds import hold_expire
from apps.payments.models import Payment
from apps.payments.on_account import booking_on_account_create
from apps.payments.selectors import booking_balance_due, booking_for_page
from apps.payments.services import payment_pay_card
from apps.pricing.quotes import DiscountCodeError
from apps.refunds.services import payment_refund_unneeded
from apps.sessions.selectors import session_for_page

from .booking_form_page import shared_booking_form
from .forms import BookingForm


def _initial_from_user(user):
    if not user.is_authenticated:
        return {}
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "company_name": user.company_name,
        "attendee_1_name": user.full_name,
        "attendee_1_email": user.email,
    }


def _limit(request, *, group: str, rate: str) -> None:
    if is_ratelimited(request, group=group, key="ip", rate=rate, increment=True):
        raise Ratelimited()


def _form_options(request) -> dict:
    """Paying by invoice is offered to a signed-in contact of an approved company."""
    if not request.user.is_authenticated:
        return {}
    return {"invoice_companies": list(invoice_companies_of(user=request.user)),
            "signed_in_email": request.user.email}


def _create_booking(request, form, booking_request):
    actor = request.user if request.user.is_authenticated else None
    if company := form.on_account_company:
        return booking_on_account_create(
            request=booking_request, company_id=company.pk, actor=actor,
            purchase_order=form.cleaned_data.get("purchase_order", ""))
    return booking_create(request=booking_request, actor=actor)


def _initial_from_earlier_booking(request):
    """"Book again": the same attendees as one of the signed-in customer's bookings."""
    reference = request.GET.get("from", "")
    if not reference or not request.user.is_authenticated:
        return {}
    earlier = Booking.objects.filter(reference=reference.upper(),
                                     purchaser=request.user).first()
    if earlier is None:
        return {}
    initial = {"seats": earlier.seats, "company_name": earlier.company_name}
    for n, attendee in enumerate(earlier.attendees.all(), start=1):
        initial[f"attendee_{n}_name"] = attendee.name
        initial[f"attendee_{n}_email"] = attendee.email
    return initial


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def book(request, session_id):
    session = session_for_page(session_id=session_id)
    if session is None:
        raise Http404("No such session.")
    bookable = session.is_bookable()
    if request.method == "GET":
        if shared := shared_booking_form(request, session=session):
            return shared
        initial = {**_initial_from_user(request.user), "seats": request.GET.get("seats", 1),
                   **_initial_from_earlier_booking(request)}
        form = BookingForm(initial=initial, session=session, **_form_options(request))
        return render(request, "bookings/book.html",
                      {"session": session, "form": form, "bookable": bookable})

    if request.htmx:
        _limit(request, group="booking-validate", rate=settings.BOOKING_VALIDATE_RATE_LIMIT)
    else:
        _limit(request, group="booking-submit", rate=settings.BOOKING_RATE_LIMIT)
    form = BookingForm(request.POST, session=session, **_form_options(request))
    if request.htmx:
        # Inline validation while the customer types: check, show, create nothing.
        form.is_valid()
        form.errors_for_filled_fields()
        return render(request, "bookings/_booking_form_fields.html",
                      {"session": session, "form": form})
    # Sold out to everyone else, but the same people booked again by their purchaser get
    # the booking that holds their seats (the form lets only that through).
    open_to_resubmission = (session.status == session.Status.SCHEDULED
                            and not session.has_started())
    attempted = open_to_resubmission and form.is_valid()
    if attempted:
        booking_request = form.to_request(session_id=session.pk)
        try:
            booking = _create_booking(request, form, booking_request)
        except DiscountCodeError as error:
            # Used up (or ended) between the check and the booking: said on its field.
            form.add_error("discount_code", ValidationError(error.message, code=error.code))
            conflict = False
        except DomainError as error:
            form.add_error(None, ValidationError(error.message, code=error.code))
            # Not enough seats, cancelled or started: a conflict (409). Someone already
            # holding a seat is something the customer corrects in the form (200).
            conflict = error.status == 409 and not isinstance(error, AlreadyBookedError)
        else:
            if booking.submission_token == booking_request.submission_token:
                remember_booking_in_session(request, booking)
                return redirect(booking.get_absolute_url())
            if booking_visible_to(request, booking):
                messages.info(request, "You already have a booking for these people on this "
                              "session, waiting for payment: here it is. No seats were held "
                              "twice.")
                return redirect(booking.get_absolute_url())
            form.add_error(None, "A booking for these people on this session is already "
                                 "waiting for payment. Sign in to “My bookings” with your "
                                 "email to pay for it.")
            conflict = False
    else:
        conflict = not bookable or form.has_error(NON_FIELD_ERRORS, "sold_out")
    form.focus_first_error()
    if attempted:
        # The booking was refused on the session as it is now: show that, not the page's
        # earlier read (without an attempt, that read is this request's own).
        session.refresh_from_db(fields=["seats_taken", "status"])
    # Sold out (or cancelled, started) is a conflict however late it was found: 409.
    status = 409 if conflict else 200
    # No longer bookable: the page shows the availability, not the form, the same page
    # every anonymous visitor gets.
    if shared := shared_booking_form(request, session=session, status=status):
        return shared
    return render(request, "bookings/book.html",
                  {"session": session, "form": form, "bookable": session.is_bookable()},
                  status=status)


def _visible_booking(request, reference):
    booking = booking_for_page(reference=reference)
    key = request.GET.get("key")
    if booking is not None and key and payment_link_reference(key) == booking.reference:
        remember_booking_in_session(request, booking)
    if booking is None or not booking_visible_to(request, booking):
        raise Http404("No booking with that reference is yours.")
    return booking


@require_http_methods(["GET"])
@vary_on_headers("HX-Request")
def booking_detail(request, reference):
    booking = _visible_booking(request, reference)
    if (booking.status == booking.Status.PENDING and booking.hold_expires_at is not None
            and booking.hold_expires_at <= timezone.now()):
        # Beat releases lapsed holds every minute; the page does not wait for it.
        hold_expire(booking_id=booking.pk)
        booking = _visible_booking(request, reference)
    # The booking's own payment (a balance paid later has its own page).
    latest = next((p for p in booking.payments.all()
                   if p.purpose == Payment.Purpose.BOOKING), None)
    context = {
        "booking": booking,
        "session": booking.session,
        "attendees": list(booking.attendees.all()),
        "latest_payment": latest,
        "waiting_for_confirmation": latest is not None and latest.status in (
            Payment.Status.PROCESSING, Payment.Status.SUCCEEDED, Payment.Status.REQUIRES_ACTION
        ) and booking.status == booking.Status.PENDING,
        "hold_seconds_left": max(
            0, int((booking.hold_expires_at - timezone.now()).total_seconds())
        ) if booking.hold_expires_at else 0,
        "STRIPE_JS_URL": settings.STRIPE_JS_URL,
        "return_url": settings.SITE_URL + booking.get_absolute_url(),
        "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
        "show_test_cards": settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_test"),
    }
    if request.htmx:
        return render(request, "bookings/_booking_status.html", context)
    return render(request, "bookings/detail.html", context)


def _json_error(error: DomainError):
    return JsonResponse({"error": {"code": error.code, "message": error.message}},
                        status=error.status)


def _booking_key(group, request):
    return request.resolver_match.kwargs.get("reference", "")


def _payment_rate_limited(request, booking):
    """Card-testing protection on the payment endpoint: a limit per booking and one per
    client address. A JSON 429 for payment.js, which shows the message."""
    for key, rate in ((_booking_key, settings.PAYMENT_RATE_LIMIT_PER_BOOKING),
                      ("ip", settings.PAYMENT_RATE_LIMIT_PER_CLIENT)):
        if is_ratelimited(request, group="booking-pay", key=key, rate=rate, increment=True):
            return JsonResponse({"error": {
                "code": "throttled",
                "message": "Too many payment attempts. Please wait a few minutes and try "
                           "again; your seats stay held until the time shown.",
            }}, status=429)
    return None


@require_POST
def booking_pay(request, reference):
    """Pay with what the customer entered in the Payment Element: the page sends the
    ConfirmationToken Stripe.js made; answers what the page must do next (JSON)."""
    return _pay_with(request, reference, payment_pay_card)


def _pay_with(request, reference, pay) -> JsonResponse:
    """One card payment attempt for the booking (`pay`: the first payment or the balance)
    and what the page must do next: 3-D Secure, try another card, or done."""
    booking = _visible_booking(request, reference)
    if limited := _payment_rate_limited(request, booking):
        return limited
    try:
        result = pay(booking=booking, confirmation_token=request.POST.get("confirmation_token", ""))
    except DomainError as error:
        return _json_error(error)
    payment = result.payment
    # Paid after the seats went, or for a balance no longer owed: given back.
    payment_refund_unneeded(payment_id=payment.pk)
    body = {"status": payment.status, "payment_id": payment.pk}
    if result.released:
        body["message"] = (
            f"{payment.failure_message or 'Your card was declined.'} No money was taken. "
            f"After {settings.PAYMENT_MAX_DECLINES} declined cards the seats have been "
            "released to protect your account: please book again."
        )
        body["released"] = True
    elif payment.status == Payment.Status.FAILED:
        body["message"] = (payment.failure_message or "Your card was declined.") + \
            " No money was taken: you can try another card."
    if result.client_secret:
        body["client_secret"] = result.client_secret
    return JsonResponse(body)


@require_http_methods(["GET"])
@vary_on_headers("HX-Request")
def booking_balance(request, reference):
    """The page that pays what a paid booking still owes (after a move to a dearer date):
    the purchaser's (signed in, the browser that booked, or a signed link) or staff's."""
    booking = _visible_booking(request, reference)
    in_flight = balance_in_flight(booking_id=booking.pk)
    latest = next((p for p in booking.payments.all()
                   if p.purpose == Payment.Purpose.BALANCE), None)
    context = {
        "booking": booking,
        "session": booking.session,
        "balance_due": booking_balance_due(booking=booking),
        "latest_payment": latest,
        "confirming": in_flight is not None and in_flight.status == Payment.Status.PROCESSING,
        "STRIPE_JS_URL": settings.STRIPE_JS_URL,
        "return_url": settings.SITE_URL + request.path,
        "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
        "show_test_cards": settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_test"),
        "booking_url": (reverse("portal:booking", args=[booking.reference])
                        if request.user.is_authenticated
                        and request.user.pk == booking.purchaser_id else ""),
    }
    if request.htmx:
        return render(request, "bookings/_balance_status.html", context)
    return render(request, "bookings/balance.html", context)


@require_POST
def booking_pay_balance(request, reference):
    """Pay the balance with the ConfirmationToken the page's Stripe.js made; answers what
    the page must do next (JSON), like booking_pay."""
    return _pay_with(request, reference, payment_pay_balance)
