"""A booking opened from an emailed link (apps/bookings/access.py makes and reads the keys).

No sign-in: the key says whose view it is, as the booking is now. The purchaser sees and
manages the booking (the same page and actions as the portal: cancel by the policy,
receipts, pay if pending, substitute an attendee); an attendee sees their own seat
(session, venue, calendar file, joining details, their certificate) and nothing of other
attendees or of payments. Someone signed in as another person still sees only what the
key grants. An expired, broken or revoked link offers to send a fresh one.
"""

from functools import wraps

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited
from django_ratelimit.exceptions import Ratelimited

from apps.bookings.access import (
    BookingAccess,
    LinkProblem,
    booking_access,
    booking_link_resend,
    booking_pay_access,
)
from apps.bookings.calendar import CANCEL, REQUEST, entry_calendar
from apps.bookings.selectors import remember_booking_in_session
from apps.certificates import pdf
from apps.certificates.models import Certificate
from apps.refunds.selectors import bookings_for_customer_pages

from .booking_page import PageLinks, booking_page, cancel_page, receipt_response, substitute_page
from .forms import FreshLinkForm

PROBLEM_STATUS = {"expired": 410, "revoked": 410, "invalid": 404}


def _private(response):
    # The key is in the address: keep it out of other sites' Referer headers, caches and
    # search engines. (Not "no-referrer": the browser would then send "Origin: null" with
    # the page's own forms, and the CSRF check would refuse them.)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def with_access(*, purchaser_only=False):
    """Open the link's key; a view gets the BookingAccess, or the "fresh link" page."""
    def decorate(view):
        @wraps(view)
        def wrapper(request, token, *args, **kwargs):
            access = booking_access(
                token=token, bookings=bookings_for_customer_pages().prefetch_related(
                    "attendees__user"))
            if not isinstance(access, BookingAccess):
                form = FreshLinkForm(initial={"reference": access.reference,
                                              "email": access.email})
                return _private(render(request, "portal/link_problem.html", {
                    "problem": access, "form": form, "known": bool(access.email)},
                    status=PROBLEM_STATUS[access.reason]))
            if purchaser_only and not access.purchaser:
                raise Http404("This link is for an attendee's own seat.")
            return _private(view(request, access, token, *args, **kwargs))
        return never_cache(wrapper)
    return decorate


def _links(token: str, access: BookingAccess) -> PageLinks:
    def url(name, *args):
        return reverse(f"portal:{name}", args=[token, *args])
    return PageLinks(
        page=url("access"), cancel=url("access-cancel"), receipt=url("access-receipt"),
        receipt_pdf=url("access-receipt-pdf"),
        substitute=url("access-substitute", 0).replace("/0/", "/{}/"),
        calendar=url("access-calendar"),
        certificate=url("access-certificate", "N").replace("/N.pdf", "/{}.pdf"))


@require_GET
@with_access()
def access_booking(request, access, token):
    return booking_page(request, booking=access.booking, viewer=access.viewer,
                        links=_links(token, access), via_link=True)


@require_http_methods(["GET", "POST"])
@with_access(purchaser_only=True)
def access_cancel(request, access, token):
    return cancel_page(request, booking=access.booking, actor=access.viewer,
                       links=_links(token, access))


@require_http_methods(["GET", "POST"])
@with_access(purchaser_only=True)
def access_substitute(request, access, token, attendee_id):
    return substitute_page(request, booking=access.booking, attendee_id=attendee_id,
                           actor=access.viewer, links=_links(token, access))


@require_GET
@with_access(purchaser_only=True)
def access_receipt(request, access, token, fmt="html"):
    return receipt_response(request, booking=access.booking, fmt=fmt)


@require_GET
@with_access()
def access_calendar(request, access, token):
    """The calendar entry of the viewer's own seat (or the purchaser's booking entry)."""
    booking = access.booking
    seat = access.seats[0] if access.seats else next(
        (a for a in booking.attendees.all() if a.user_id == booking.purchaser_id), None)
    content = entry_calendar(
        booking=booking, attendee=seat, method=REQUEST if booking.holds_seats else CANCEL,
        recipient_email=access.email,
        recipient_name=seat.name if seat else booking.purchaser.get_full_name(),
        now=timezone.now())
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{booking.reference}.ics"'
    return response


@require_GET
@with_access()
def access_certificate(request, access, token, number):
    """The viewer's own certificate from this booking (not other attendees')."""
    certificate = Certificate.objects.filter(
        number=number, revoked_at__isnull=True, attendee__booking=access.booking,
        user=access.viewer).select_related("course", "session").first()
    if certificate is None:
        raise Http404("No certificate with that number is yours.")
    response = HttpResponse(pdf.certificate_pdf(certificate=certificate),
                            content_type=pdf.PDF_CONTENT_TYPE)
    response["Content-Disposition"] = (
        f'attachment; filename="{pdf.certificate_filename(certificate=certificate)}"')
    return response


@require_GET
@never_cache
def access_pay(request, token):
    """The emailed link that pays a booking on account by card (its purchaser's or a
    company contact's): this browser may now open the booking's payment page, which the
    link leads to (the key leaves the address bar)."""
    found = booking_pay_access(token=token)
    if isinstance(found, LinkProblem):
        form = FreshLinkForm(initial={"reference": found.reference, "email": found.email})
        return _private(render(request, "portal/link_problem.html", {
            "problem": found, "form": form, "known": bool(found.email)},
            status=PROBLEM_STATUS[found.reason]))
    remember_booking_in_session(request, found)
    return _private(redirect("bookings:balance", found.reference))


@require_POST
def access_fresh_link(request):
    """Send a fresh link if the address is on the booking; the same answer either way."""
    if is_ratelimited(request, group="booking-link", key="ip",
                      rate=settings.BOOKING_LINK_RESEND_RATE_LIMIT, increment=True):
        raise Ratelimited()
    form = FreshLinkForm(request.POST)
    if not form.is_valid():
        return _private(render(request, "portal/link_problem.html", {
            "problem": None, "form": form, "known": False}, status=400))
    booking_link_resend(reference=form.cleaned_data["reference"],
                        email=form.cleaned_data["email"])
    return _private(render(request, "portal/link_sent.html",
                           {"email": form.cleaned_data["email"]}))
