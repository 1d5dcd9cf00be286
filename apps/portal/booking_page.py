"""The customer's booking page and its actions (cancel, substitute), shared by the two ways
in: the signed-in portal (`portal:booking`) and an emailed link (`portal:access`). Who is
looking (`viewer`) and where the actions live (`links`) are given by the caller; what the
viewer may see and do is decided here and in the services, the same for both."""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from apps.bookings.models import Booking
from apps.bookings.notifications import balance_payment_path, payment_link
from apps.bookings.substitution import attendee_substitute, substitution_rules
from apps.certificates.models import Certificate
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.invoicing.selectors import booking_documents, invoice_open_to_reissue
from apps.payments.selectors import booking_balance_due
from apps.refunds.cancellation import (
    QuoteChanged,
    booking_cancel_by_customer,
    booking_cancellation_quote,
)
from apps.refunds.changes import booking_change_options
from apps.refunds.receipts import receipt_html, receipt_pdf
from apps.refunds.selectors import customer_view_of_booking

from .forms import CancelConfirmForm, SubstituteForm


@dataclass
class PageLinks:
    """Where this way in puts the page and its actions (`{}`: the attendee id)."""

    page: str
    cancel: str
    receipt: str
    receipt_pdf: str
    substitute: str  # with "{}" for the attendee id
    back: str = ""
    calendar: str = ""
    certificate: str = ""  # with "{}" for the certificate number; "" = the portal's


def receipt_response(request, *, booking: Booking, fmt: str = "html") -> HttpResponse:
    try:
        if fmt == "pdf":
            response = HttpResponse(receipt_pdf(booking=booking),
                                    content_type="application/pdf")
            response["Content-Disposition"] = (
                f'attachment; filename="receipt-{booking.reference}.pdf"')
            return response
        return HttpResponse(receipt_html(booking=booking, request=request))
    except DomainError as error:
        raise Http404(error.message) from error


def _paid_by_card(booking) -> bool:
    return any(p.method == "card" and p.has_succeeded for p in booking.payments.all())


def booking_page(request, *, booking: Booking, viewer, links: PageLinks, via_link=False):
    context = customer_view_of_booking(booking=booking, user=viewer)
    now = timezone.now()
    if context["is_purchaser"] and booking.can_become(Booking.Status.CANCELLED):
        context["quote"] = booking_cancellation_quote(booking=booking)
    rules = substitution_rules(booking=booking, now=now)
    if context["is_purchaser"]:
        context["substitution"] = rules
        context["substitute_rows"] = [
            {"attendee": a, "url": links.substitute.format(a.pk)} for a in context["attendees"]]
    if context["is_purchaser"] and not via_link:
        # Changing the date and cancelling one place live in the signed-in portal.
        context.update(booking_change_options(booking=booking))
        # Invoices and credit notes, and making the invoice out to a company, too.
        context["documents"] = booking_documents(booking_id=booking.pk)
        context["reissuable"] = invoice_open_to_reissue(booking_id=booking.pk)
    if context["is_purchaser"]:
        # A move to a dearer date leaves the difference owed, and a booking on account
        # owes its invoice: either is paid by card on its own page.
        context["balance_due"] = booking_balance_due(booking=booking)
        if context["balance_due"]:
            context["balance_url"] = balance_payment_path(booking)
    if context["due"] and not booking.on_account:
        # A booking on account is paid by transfer or through balance_url, never here.
        context["pay_url"] = payment_link(booking)
    seat_ids = [a.pk for a in context["attendees"] if a.user_id == viewer.pk]
    context["certificates"] = [
        {"certificate": c, "url": links.certificate.format(c.number) if links.certificate
         else ""}
        for c in Certificate.objects.filter(attendee_id__in=seat_ids, revoked_at__isnull=True)]
    context.update({"links": links, "via_link": via_link,
                    "signed_in_as_other": via_link and request.user.is_authenticated
                    and request.user.pk != viewer.pk})
    return render(request, "portal/booking.html", context)


def cancel_page(request, *, booking: Booking, actor, links: PageLinks):
    if not booking.can_become(Booking.Status.CANCELLED):
        messages.error(request, f"Booking {booking.reference} can no longer be cancelled.")
        return redirect(links.page)
    quote = booking_cancellation_quote(booking=booking)
    problem = ""
    if request.method == "POST":
        form = CancelConfirmForm(request.POST)
        if not form.is_valid():
            problem = ("We could not tell which refund you confirmed. Please check the "
                       "amount below and confirm again.")
        else:
            try:
                refunds = booking_cancel_by_customer(
                    booking=booking, actor=actor,
                    confirmed_amount=form.cleaned_data["confirmed_amount"])
            except QuoteChanged as changed:
                quote, problem = changed.quote, changed.message
            except DomainError as error:
                messages.error(request, error.message)
                return redirect(links.page)
            else:
                refunded = sum(refund.amount for refund in refunds)
                if refunded:
                    how = "to your card" if _paid_by_card(booking) else "the way you paid"
                    told = f"{format_money(refunded, booking.currency)} will be refunded {how}."
                else:
                    told = "No refund is due."
                messages.success(request, f"Booking {booking.reference} is cancelled. {told}")
                return redirect(links.page)
    return render(request, "portal/cancel.html", {
        **customer_view_of_booking(booking=booking, user=actor),
        "quote": quote, "paid_by_card": _paid_by_card(booking), "problem": problem,
        "links": links})


def substitute_page(request, *, booking: Booking, attendee_id: int, actor, links: PageLinks):
    """The purchaser names who goes instead of one attendee; the service decides."""
    attendee = next((a for a in booking.attendees.all() if a.pk == attendee_id), None)
    if attendee is None:
        raise Http404("No such attendee on this booking.")
    rules = substitution_rules(booking=booking)
    form = SubstituteForm(request.POST or None, initial={"replacing": attendee.email})
    if request.method == "POST" and rules.allowed and form.is_valid():
        data = form.cleaned_data
        try:
            attendee_substitute(attendee_id=attendee.pk, name=data["name"], email=data["email"],
                                actor=actor, replacing=data["replacing"])
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"{data['name']} now has the seat that was "
                                      f"{attendee.name}'s. We have emailed both of them.")
            return redirect(links.page)
    status = 200 if rules.allowed or request.method == "GET" else 409
    return render(request, "portal/substitute.html", {
        "booking": booking, "attendee": attendee, "form": form, "rules": rules,
        "links": links}, status=status if not form.errors else 200)
