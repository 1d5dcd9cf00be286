from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.backoffice.admin.booking_hub import BookingHubMixin
from apps.backoffice.admin.changes import change_urls
from apps.backoffice.admin.common import KeptOnceMoneyMoved, UnifiedHistory
from apps.backoffice.forms import PhoneBookingForm
from apps.backoffice.money import money_field_names, money_fields
from apps.backoffice.search import ExactSearchMixin, is_booking_reference, is_email
from apps.backoffice.text import counted
from apps.bookings.models import Attendee, Booking
from apps.bookings.notifications import booking_send_confirmations
from apps.bookings.services import BookingRequest, booking_move
from apps.certificates.attendance import attendance_record
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.payments.models import Dispute
from apps.payments.on_account import (
    booking_on_account_create,
    on_account_overdue,
    on_account_unpaid,
)
from apps.payments.staff_bookings import StaffPayment, staff_booking_create
from apps.pricing.quotes import DiscountCodeError
from apps.refunds.cancellation import booking_cancel, refund_outcomes_text
from apps.refunds.changes import booking_balance_due
from apps.refunds.models import Refund
from apps.sessions.models import CourseSession
from apps.users.models import User, normalize_email
from apps.users.roles import is_instructor_only
from apps.users.services import personal_data_viewed

from .pricing import BookingDiscountInline
from .substitution import substitute_link, substitute_view


class AttendeeInline(admin.TabularInline):
    model = Attendee
    extra = 0
    fields = ["name", "email", "user", "attendance", "substitute", "cancel_place"]
    # The person on a seat changes only through the substitution service (which moves the
    # account, tells both people and logs it); a misspelt name is corrected there too.
    readonly_fields = ["name", "email", "user", "attendance", "substitute", "cancel_place"]

    @admin.display(description="")
    def substitute(self, obj):
        return substitute_link(obj)

    @admin.display(description="Place")
    def cancel_place(self, obj):
        if obj.pk is None or obj.booking.seats <= 1 or \
                obj.booking.status not in (Booking.Status.PENDING, Booking.Status.PAID):
            return ""
        return format_html('<a href="{}">Cancel this place…</a>',
                           reverse("admin:bookings_booking_cancel_attendee", args=[obj.pk]))


def _made_by_or_for(email: str) -> Q:
    """Bookings an address bought or attends. Ids first, so that PostgreSQL can combine
    two index scans instead of scanning every booking for an OR across a join."""
    users = list(User.objects.filter(email=email).values_list("pk", flat=True))
    attending = list(Attendee.objects.filter(user_id__in=users).values_list("booking_id",
                                                                             flat=True))
    return Q(purchaser_id__in=users) | Q(pk__in=attending)


class DisputedFilter(admin.SimpleListFilter):
    title = "dispute"
    parameter_name = "disputed"

    def lookups(self, request, model_admin):
        return [("yes", "Disputed"), ("open", "Dispute open")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(payments__disputes__isnull=False).distinct()
        if self.value() == "open":
            return queryset.filter(
                payments__disputes__status__in=Dispute.OPEN
            ).distinct()
        return queryset


class OnAccountFilter(admin.SimpleListFilter):
    """The overdue list: bookings on account past their due date with money outstanding."""

    title = "on account"
    parameter_name = "on_account"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue (past due, unpaid)"), ("unpaid", "Unpaid"),
                ("all", "Every booking on account")]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.filter(pk__in=on_account_overdue().values("pk"))
        if self.value() == "unpaid":
            return queryset.filter(pk__in=on_account_unpaid().values("pk"))
        if self.value() == "all":
            return queryset.filter(payment_due_date__isnull=False)
        return queryset


@admin.register(Booking)
class BookingAdmin(BookingHubMixin, UnifiedHistory, KeptOnceMoneyMoved, ExactSearchMixin,
                   admin.ModelAdmin):
    list_display = ["reference", "purchaser", "session", "seats", "total", "status", "disputed",
                    "created_at"]
    list_filter = ["status", OnAccountFilter, DisputedFilter, "session__course",
                   "session__starts_at", "created_at"]
    # A whole email finds bookings made by or for that person; a whole reference, that
    # booking (both through indexes); other text searches names and companies.
    search_fields = ["reference", "purchaser__email", "purchaser__last_name", "company_name"]
    exact_search = [
        (is_email, lambda term: _made_by_or_for(normalize_email(term))),
        (is_booking_reference, lambda term: Q(reference=term.upper())),
    ]
    list_select_related = ["purchaser", "session__course", "session__location"]
    show_full_result_count = False  # one COUNT(*) per page, not two

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            booking = response.context_data["original"]
            personal_data_viewed(viewer=request.user, user_id=booking.purchaser_id,
                                 target=booking, where="admin: booking page")
        return response
    readonly_fields = money_fields(Booking, [
        "reference", "status", "purchaser", "session", "seats", "unit_price", "list_amount",
        "total_amount",
        "currency", "hold_expires_at", "created_at", "paid_at", "cancelled_at", "disputed",
        "terms_document", "terms_accepted_at", "balance_due", "company", "purchase_order",
        "payment_due_date"])
    exclude = money_field_names(Booking)
    inlines = [AttendeeInline, BookingDiscountInline]
    actions = ["cancel_with_full_refund", "resend_confirmation", "move_to_session"]

    def money_moved(self, obj) -> bool:
        return obj.payments.exists()

    def get_queryset(self, request):
        # An EXISTS per row, not a join and GROUP BY over every booking.
        disputes = Dispute.objects.filter(payment__booking=OuterRef("pk"))
        return super().get_queryset(request).annotate(has_dispute=Exists(disputes))

    @admin.display(description="Still owed")
    def balance_due(self, obj):
        """A move to a dearer date leaves the difference owed (apps/refunds/changes.py)."""
        due = booking_balance_due(booking=obj)
        return format_money(due, obj.currency) if due else "—"

    @admin.display(description="Disputed", ordering="has_dispute")
    def disputed(self, obj):
        has = getattr(obj, "has_dispute", None)
        if has is None:
            has = obj.payments.filter(disputes__isnull=False).exists()
        return "DISPUTED" if has else ""

    @admin.action(description="Resend confirmation emails", permissions=["change"])
    def resend_confirmation(self, request, queryset):
        stamp = timezone.now().strftime(":resend:%Y%m%d%H%M")
        sent = 0
        for booking in queryset.filter(status__in=[Booking.Status.PAID,
                                                     Booking.Status.COMPLETED]):
            booking_send_confirmations(booking, resend=stamp)
            sent += 1
        self.message_user(request, f"Confirmation resent for {counted(sent, 'paid booking')}.")

    @admin.action(description="Move to another session of the same course…",
                  permissions=["change"])
    def move_to_session(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one booking to move.", messages.ERROR)
            return None
        # The transfer: the target's price, the difference refunded or owed.
        return redirect("admin:bookings_booking_transfer", queryset.get().pk)

    def get_urls(self):
        return [path("<int:booking_id>/move/", self.admin_site.admin_view(self.move_view),
                     name="bookings_booking_move"),
                path("phone/", self.admin_site.admin_view(self.phone_booking_view),
                     name="bookings_booking_phone"),
                *change_urls(self),
                path("attendees/<int:attendee_id>/substitute/",
                     self.admin_site.admin_view(self.substitute_view),
                     name="bookings_booking_substitute")] + self.hub_urls() + super().get_urls()

    def substitute_view(self, request, attendee_id):
        return substitute_view(self, request, attendee_id)

    def add_view(self, request, form_url="", extra_context=None):
        # Bookings are created through the booking rules, never as a raw form.
        return redirect("admin:bookings_booking_phone")

    def phone_booking_view(self, request):
        """Book on a customer's behalf: the same rules as the web, then a payment link or
        a manual (invoice) payment."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PhoneBookingForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            booking_request = BookingRequest(
                session_id=data["session"].pk, purchaser_email=data["email"],
                purchaser_first_name=data["first_name"],
                purchaser_last_name=data["last_name"], purchaser_phone=data["phone"],
                company_name=data["company_name"], attendees=data["attendees"],
                special_requirements=data["special_requirements"],
                discount_code=data["discount_code"])
            try:
                if data["payment"] == "account":
                    booking = booking_on_account_create(
                        request=booking_request, company_id=data["company"].pk,
                        purchase_order=data["purchase_order"], actor=request.user)
                else:
                    booking = staff_booking_create(
                        request=booking_request,
                        payment=(StaffPayment.INVOICE if data["payment"] == "invoice"
                                 else StaffPayment.CARD),
                        actor=request.user)
            except DiscountCodeError as error:
                form.add_error("discount_code", error.message)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                how = {"invoice": "marked paid by invoice",
                       "account": f"confirmed on account, due {booking.payment_due_date}"}.get(
                    data["payment"], f"payment link sent to {booking.purchaser.email}")
                self.message_user(request, f"Booked {booking.reference}: {how}.")
                return redirect("admin:bookings_booking_change", booking.pk)
        return TemplateResponse(request, "admin/bookings/phone_booking.html", {
            **self.admin_site.each_context(request), "form": form,
            "title": "Book for a customer", "opts": self.model._meta,
        })

    def move_view(self, request, booking_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        booking = get_object_or_404(Booking.objects.select_related("session__course",
                                                                   "session__location"),
                                    pk=booking_id)
        choices = CourseSession.objects.upcoming(timezone.now()).filter(
            course_id=booking.session.course_id).exclude(pk=booking.session_id).select_related(
            "location")
        if request.method == "POST":
            try:
                booking_move(booking_id=booking.pk, actor=request.user,
                             to_session_id=int(request.POST.get("session", 0) or 0))
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, f"{booking.reference} moved; its people have been "
                                           "sent the new date and venue with an updated "
                                           "calendar invitation.")
                return redirect("admin:bookings_booking_change", booking.pk)
        return TemplateResponse(request, "admin/bookings/move_booking.html", {
            **self.admin_site.each_context(request), "booking": booking, "choices": choices,
            "title": f"Move {booking.reference}", "opts": self.model._meta,
        })

    @admin.action(description="Cancel and refund in full", permissions=["change"])
    def cancel_with_full_refund(self, request, queryset):
        done, refund_ids = 0, []
        for booking in queryset:
            try:
                refunds = booking_cancel(booking_id=booking.pk, actor=request.user,
                                         reason="Cancelled by staff")
            except DomainError as error:
                self.message_user(request, f"{booking.reference}: {error.message}",
                                  messages.WARNING)
                continue
            done += 1
            refund_ids += [refund.pk for refund in refunds]
        if done:
            refunds = Refund.objects.filter(pk__in=refund_ids)
            self.message_user(request, f"{counted(done, 'booking')} cancelled; "
                                       f"{refund_outcomes_text(refunds=refunds, currency='GBP')}.")

    @admin.display(description="Total", ordering="total_amount")
    def total(self, obj):
        return format_money(obj.total_amount, obj.currency)


@admin.register(Attendee)
class AttendeeAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "booking", "session", "special_requirements",
                    "attendance"]
    list_filter = ["attendance", "booking__session__course"]
    search_fields = ["name", "email", "booking__reference"]
    list_select_related = ["booking__session__course", "booking__session__location"]
    # Who holds the seat changes only through "Substitute…" (the service), never by editing.
    readonly_fields = ["name", "email", "booking", "user", "attendance", "substitute"]
    actions = ["mark_attended", "mark_no_show"]

    @admin.display(description="Substitute")
    def substitute(self, obj):
        return substitute_link(obj)

    def has_add_permission(self, request):
        return False  # seats come with bookings

    @admin.display(description="Session")
    def session(self, obj):
        return obj.booking.session

    @admin.display(description="Special requirements")
    def special_requirements(self, obj):
        return obj.booking.special_requirements

    def get_readonly_fields(self, request, obj=None):
        if is_instructor_only(request.user):
            return ["name", "email", "booking", "user", "attendance"]
        return super().get_readonly_fields(request, obj)

    def get_queryset(self, request):
        attendees = super().get_queryset(request)
        if is_instructor_only(request.user):
            attendees = attendees.filter(booking__session__trainer=request.user)
        return attendees

    def _mark(self, request, queryset, attendance):
        try:
            result = attendance_record(attendee_ids=list(queryset.values_list("pk", flat=True)),
                                       attendance=attendance, actor=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        then = (". Certificates follow for those who attended."
                if attendance == Attendee.Attendance.ATTENDED else ".")
        self.message_user(request, result.summary(attendance, then),
                          messages.WARNING if result.refused else messages.SUCCESS)

    @admin.action(description="Mark attended (issues certificates)", permissions=["change"])
    def mark_attended(self, request, queryset):
        self._mark(request, queryset, Attendee.Attendance.ATTENDED)

    @admin.action(description="Mark no-show", permissions=["change"])
    def mark_no_show(self, request, queryset):
        self._mark(request, queryset, Attendee.Attendance.NO_SHOW)
