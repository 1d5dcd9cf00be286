"""The booking page as the hub (issue #19 item 2): everything about the booking on one
page, and the actions staff take there, each behind a page that states its consequence
before anything happens. The rules stay in the services these views call."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from apps.backoffice.forms import BankTransferForm
from apps.backoffice.hub import (
    booking_hub,
    payment_label,
    refund_consequence,
    refund_requested_message,
)
from apps.backoffice.text import counted
from apps.bookings.models import COUNTED_STATUSES, Booking
from apps.bookings.notifications import booking_send_confirmations
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.payments.balance import balance_send_payment_link
from apps.payments.models import Payment
from apps.payments.on_account import booking_outstanding, on_account_payment_record
from apps.payments.selectors import booking_balance_due
from apps.refunds.cancellation import (
    booking_cancel,
    booking_cancellation_quote,
    refund_outcomes_text,
)
from apps.refunds.forms import RefundForm
from apps.refunds.models import Refund
from apps.refunds.services import refund_create, refundable_amount

CONFIRMABLE_RESEND = (Booking.Status.PAID, Booking.Status.COMPLETED)


class BookingHubMixin:
    change_form_template = "admin/bookings/booking/hub_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        booking = self.get_object(request, object_id)
        if booking is not None:
            extra_context = {**(extra_context or {}), "hub": booking_hub(booking),
                             "can_resend": booking.status in CONFIRMABLE_RESEND,
                             "can_cancel": booking.can_become(Booking.Status.CANCELLED),
                             "balance_due": booking_balance_due(booking=booking),
                             "can_record_transfer": booking.on_account
                             and booking.status == Booking.Status.PENDING,
                             "may_change": self.has_change_permission(request, booking)}
        return super().change_view(request, object_id, form_url, extra_context)

    def hub_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:booking_id>/refund/<int:payment_id>/", view(self.hub_refund_view),
                 name="bookings_booking_refund"),
            path("<int:booking_id>/cancel/", view(self.hub_cancel_view),
                 name="bookings_booking_cancel"),
            path("<int:booking_id>/resend/", view(self.hub_resend_view),
                 name="bookings_booking_resend"),
            path("<int:booking_id>/balance-link/", view(self.hub_balance_link_view),
                 name="bookings_booking_balance_link"),
            path("<int:booking_id>/bank-transfer/", view(self.hub_bank_transfer_view),
                 name="bookings_booking_bank_transfer"),
        ]

    def _hub_context(self, request, booking, title, **extra):
        return {**self.admin_site.each_context(request), "booking": booking, "title": title,
                "opts": self.model._meta, "original": booking, **extra}

    def _booking_for_action(self, request, booking_id):
        booking = get_object_or_404(Booking.objects.select_related(
            "purchaser", "session__course", "session__location"), pk=booking_id)
        if not self.has_change_permission(request, booking):
            raise PermissionDenied
        return booking

    def hub_refund_view(self, request, booking_id, payment_id):
        """Amount and reason, then a page saying what will happen, then the refund."""
        booking = self._booking_for_action(request, booking_id)
        if not request.user.has_perm("payments.change_payment"):
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("user"), pk=payment_id,
                                    booking=booking)
        available = refundable_amount(payment)
        form = RefundForm(request.POST or None, payment=payment, available=available)
        context = self._hub_context(
            request, booking, f"Refund {booking.reference}", payment=payment, form=form,
            available=available, already=payment.amount - available,
            payment_label=payment_label(payment))
        if request.method == "POST" and form.is_valid():
            amount = form.cleaned_data["amount"]
            if request.POST.get("confirmed") != "yes":
                return TemplateResponse(request, "admin/bookings/hub_refund_confirm.html", {
                    **context, "amount": amount, "amount_text": form["amount"].value(),
                    "consequence": refund_consequence(payment=payment, amount=amount)})
            try:
                refund = refund_create(payment=payment, amount=amount,
                                       reason=form.cleaned_data["reason"], actor=request.user,
                                       initiator=Refund.Initiator.STAFF)
            except DomainError as error:
                form.add_error("amount", error.message)
            else:
                refund.refresh_from_db()
                self.message_user(request, refund_requested_message(refund),
                                  messages.ERROR if refund.status == Refund.Status.FAILED
                                  else messages.SUCCESS)
                return redirect("admin:bookings_booking_change", booking.pk)
        return TemplateResponse(request, "admin/bookings/hub_refund.html", context)

    def hub_cancel_view(self, request, booking_id):
        booking = self._booking_for_action(request, booking_id)
        if request.method == "POST":
            reason = request.POST.get("reason", "").strip() or "Cancelled by staff"
            try:
                refunds = booking_cancel(booking_id=booking.pk, actor=request.user,
                                         reason=reason)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                outcome = refund_outcomes_text(
                    refunds=Refund.objects.filter(pk__in=[r.pk for r in refunds]),
                    currency=booking.currency)
                self.message_user(request, f"{booking.reference} cancelled; {outcome}.")
            return redirect("admin:bookings_booking_change", booking.pk)
        payments = [(payment_label(p), refundable_amount(p), p.currency)
                    for p in Payment.objects.filter(booking=booking).order_by("pk")]
        refunds = [(label, format_money(amount, currency)) for label, amount, currency
                   in payments if amount > 0]
        quote = booking_cancellation_quote(booking=booking)
        return TemplateResponse(request, "admin/bookings/hub_cancel_confirm.html",
                                self._hub_context(
                                    request, booking, f"Cancel {booking.reference}?",
                                    refunds=refunds, quote=quote,
                                    can_cancel=booking.can_become(Booking.Status.CANCELLED),
                                    seats=counted(booking.seats, "seat"),
                                    counted_status=booking.status in COUNTED_STATUSES))

    def hub_resend_view(self, request, booking_id):
        booking = self._booking_for_action(request, booking_id)
        allowed = booking.status in CONFIRMABLE_RESEND
        if request.method == "POST" and allowed:
            booking_send_confirmations(booking,
                                       resend=timezone.now().strftime(":resend:%Y%m%d%H%M"))
            self.message_user(request, f"Confirmation of {booking.reference} sent again to "
                                       f"{booking.purchaser.email} and its attendees.")
            return redirect("admin:bookings_booking_change", booking.pk)
        return TemplateResponse(request, "admin/bookings/hub_resend_confirm.html",
                                self._hub_context(request, booking,
                                                  f"Resend the confirmation of "
                                                  f"{booking.reference}?", allowed=allowed,
                                                  attendees=booking.attendees.all()))

    def hub_balance_link_view(self, request, booking_id):
        """Email the purchaser a link to pay what the booking still owes (after a move to
        a dearer date): a page saying what will be sent, then the email (the outbox)."""
        booking = self._booking_for_action(request, booking_id)
        due = booking_balance_due(booking=booking)
        if request.method == "POST" and due:
            try:
                amount = balance_send_payment_link(booking=booking, actor=request.user)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, f"A link to pay {format_money(amount, booking.currency)}"
                                           f" was emailed to {booking.purchaser.email}.")
            return redirect("admin:bookings_booking_change", booking.pk)
        return TemplateResponse(request, "admin/bookings/hub_balance_link_confirm.html",
                                self._hub_context(request, booking,
                                                  f"Ask for the balance of {booking.reference}?",
                                                  balance_due=due))
    def hub_bank_transfer_view(self, request, booking_id):
        """A bank transfer received against a booking on account: part or all of what is
        outstanding, recorded as a payment (never edited or deleted afterwards)."""
        booking = self._booking_for_action(request, booking_id)
        if not request.user.has_perm("payments.change_payment"):
            raise PermissionDenied
        outstanding = booking_outstanding(booking)
        form = BankTransferForm(request.POST or None, currency=booking.currency,
                                outstanding=outstanding)
        if request.method == "POST" and form.is_valid():
            try:
                payment = on_account_payment_record(
                    booking_id=booking.pk, amount=form.cleaned_data["amount"],
                    note=form.cleaned_data["note"], actor=request.user)
            except DomainError as error:
                form.add_error("amount", error.message)
            else:
                left = outstanding - payment.amount
                self.message_user(request, f"Bank transfer of "
                                  f"{format_money(payment.amount, payment.currency)} recorded "
                                  f"on {booking.reference}; " + (
                                      f"{format_money(left, payment.currency)} still outstanding."
                                      if left else "it is now paid in full."))
                return redirect("admin:bookings_booking_change", booking.pk)
        return TemplateResponse(request, "admin/bookings/hub_bank_transfer.html",
                                self._hub_context(
                                    request, booking, f"Record a bank transfer on "
                                    f"{booking.reference}", form=form,
                                    outstanding=format_money(outstanding, booking.currency),
                                    on_account=booking.on_account
                                    and booking.status == Booking.Status.PENDING))
