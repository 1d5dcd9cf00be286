"""The customer portal: a signed-in customer's bookings, receipts, cancellations,
profile and data. Every lookup is scoped to the signed-in user: anything else is a 404."""

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from apps.bookings.models import Booking
from apps.bookings.selectors import booking_is_upcoming
from apps.certificates.models import Certificate
from apps.core.errors import DomainError
from apps.operations.erasure import customer_erase, erasure_preview
from apps.operations.personal_data import user_export_data
from apps.refunds.selectors import customer_booking, customer_bookings, customer_view_of_booking
from apps.sessions.selectors import next_session_by_course, renewal_session, renewal_window
from apps.users.forms import ProfileForm
from apps.users.models import MarketingConsentChange, User
from apps.users.services import marketing_consent_set

from .booking_page import (
    PageLinks,
    booking_page,
    cancel_page,
    receipt_response,
    substitute_page,
)


def _own_booking(request, reference, *, purchaser_only=False) -> Booking:
    booking = customer_booking(user=request.user, reference=reference)
    if booking is None or (purchaser_only and booking.purchaser_id != request.user.pk):
        raise Http404("No booking with that reference is yours.")
    return booking


@login_required
@require_GET
def portal_home(request):
    now = timezone.now()
    views = [customer_view_of_booking(booking=b, user=request.user)
             for b in customer_bookings(user=request.user)]
    upcoming = [v for v in views if booking_is_upcoming(v["booking"], now=now)]
    past = [v for v in views if v not in upcoming]
    certificates = list(Certificate.objects.filter(user=request.user).select_related("course"))
    next_sessions = next_session_by_course(
        course_ids={v["booking"].session.course_id for v in past}
        | {c.course_id for c in certificates}, now=now)
    for view in past:
        view["rebook"] = next_sessions.get(view["booking"].session.course_id)
    today = timezone.localdate(now)
    for certificate in certificates:
        # Renewal is offered near the expiry date, not at the next session whatever it is.
        if certificate.expires_on:
            certificate.renew_from = renewal_window(expires_on=certificate.expires_on,
                                                    today=today)[0]
            certificate.renew_session = renewal_session(
                course_id=certificate.course_id, expires_on=certificate.expires_on, now=now)
        else:
            certificate.renew_from = certificate.renew_session = None
    return render(request, "portal/home.html", {
        "upcoming": upcoming, "past": list(reversed(past)), "certificates": certificates,
    })


def _portal_links(booking) -> PageLinks:
    ref = booking.reference
    return PageLinks(
        page=reverse("portal:booking", args=[ref]), cancel=reverse("portal:cancel", args=[ref]),
        receipt=reverse("portal:receipt", args=[ref]),
        receipt_pdf=reverse("portal:receipt-pdf", args=[ref]),
        substitute=reverse("portal:substitute", args=[ref, 0]).replace("/0/", "/{}/"),
        back=reverse("portal:home"))


@login_required
@require_GET
def portal_booking(request, reference):
    booking = _own_booking(request, reference)
    return booking_page(request, booking=booking, viewer=request.user,
                        links=_portal_links(booking))


@login_required
@require_http_methods(["GET", "POST"])
def portal_cancel(request, reference):
    booking = _own_booking(request, reference, purchaser_only=True)
    return cancel_page(request, booking=booking, actor=request.user,
                       links=_portal_links(booking))


@login_required
@require_http_methods(["GET", "POST"])
def portal_substitute(request, reference, attendee_id):
    booking = _own_booking(request, reference, purchaser_only=True)
    return substitute_page(request, booking=booking, attendee_id=attendee_id,
                           actor=request.user, links=_portal_links(booking))


@login_required
@require_GET
def portal_receipt(request, reference, fmt="html"):
    booking = _own_booking(request, reference, purchaser_only=True)
    return receipt_response(request, booking=booking, fmt=fmt)


@login_required
@require_http_methods(["GET", "POST"])
def portal_profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        given = form.cleaned_data["marketing_consent"]
        form.instance.marketing_consent = request.user.marketing_consent = \
            User.objects.values_list("marketing_consent", flat=True).get(pk=request.user.pk)
        form.save()  # the profile; consent goes through its service, which keeps a history
        marketing_consent_set(user=request.user, given=given,
                              source=MarketingConsentChange.Source.PORTAL, actor=request.user)
        messages.success(request, "Your details are saved.")
        return redirect("portal:profile")
    return render(request, "portal/profile.html", {"form": form})


@login_required
@require_GET
def portal_export(request):
    response = HttpResponse(json.dumps(user_export_data(user=request.user), indent=2),
                            content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def portal_delete(request):
    if request.method == "POST":
        if request.POST.get("confirm") != "DELETE":
            messages.error(request, "Type DELETE to confirm.")
            return redirect("portal:delete")
        try:
            refunds = customer_erase(user=request.user)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("portal:delete")
        logout(request)
        messages.success(request, "Your personal data has been erased and you are signed out."
                         + (" Your refunds go back the way you paid." if refunds else ""))
        return redirect("sessions:catalogue")
    return render(request, "portal/delete.html", erasure_preview(user=request.user))
