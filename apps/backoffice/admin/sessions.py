
from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils.html import format_html, format_html_join

from apps.backoffice.admin.trainer_day import TrainersDayMixin
from apps.backoffice.money import MoneyFormMixin, money_display
from apps.backoffice.text import counted
from apps.bookings.models import Attendee, Booking
from apps.bookings.session_changes import (
    session_capacity_error,
    session_lock_for_edit,
    session_save_edit,
)
from apps.certificates.attendance import attendance_record
from apps.core.errors import DomainError
from apps.core.spreadsheets import csv_writer
from apps.refunds.cancellation import (
    refund_outcomes_text,
    session_cancel,
    session_failed_refunds,
)
from apps.refunds.models import Refund
from apps.refunds.services import refund_retry
from apps.sessions.catalogue_cache import catalogue_changed
from apps.sessions.models import Course, CourseSession, Location
from apps.users.roles import is_instructor_only


class ChangesCatalogue:
    """Saving or deleting a course, venue or session changes what the catalogue shows:
    its cached list is dropped after the commit (said here, not in a signal)."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        catalogue_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        catalogue_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        catalogue_changed()


@admin.register(Course)
class CourseAdmin(MoneyFormMixin, ChangesCatalogue, admin.ModelAdmin):
    list_display = ["title", money_display("price", currency=lambda obj: obj.currency,
                                           label="Price per seat"),
                    "validity_months", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(Location)
class LocationAdmin(ChangesCatalogue, admin.ModelAdmin):
    list_display = ["name", "city", "postcode"]
    search_fields = ["name", "city", "postcode"]


@admin.register(CourseSession)
class CourseSessionAdmin(TrainersDayMixin, MoneyFormMixin, ChangesCatalogue, admin.ModelAdmin):
    list_display = ["starts_at", "course", "location", "trainer", "capacity", "seats_taken",
                    "seats_left", "status"]
    list_filter = ["status", "course", "location", "trainer"]
    search_fields = ["course__title", "location__name", "trainer__email"]
    list_select_related = ["course", "location", "trainer"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["trainer"]
    readonly_fields = ["trainer_day_links", "seats_taken", "status", "refund_summary",
                       "attendee_list"]
    actions = ["print_register", "cancel_sessions", "retry_failed_refunds",
               "mark_everyone_attended", "export_attendees_csv"]

    def get_urls(self):
        return self.trainer_day_urls() + super().get_urls()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form

        class SessionEditForm(form):
            def clean(self):
                cleaned = super().clean()
                # The admin's save runs in one transaction: this lock holds until it
                # commits, so a booking in flight waits and then meets the new capacity.
                locked = session_lock_for_edit(session_id=self.instance.pk)
                error = session_capacity_error(capacity=cleaned.get("capacity"),
                                               seats_taken=locked.seats_taken)
                if error:
                    self.add_error("capacity", error)
                return cleaned

        return SessionEditForm

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        told = session_save_edit(session=obj, actor=request.user)
        if told:
            self.message_user(request, "Date, time or venue changed: the people on "
                                       f"{counted(len(told), 'booking')} have been sent an "
                                       "updated invitation.")

    @admin.action(description="Export attendee lists (CSV)", permissions=["view"])
    def export_attendees_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="attendees.csv"'
        writer = csv_writer(response)  # escapes customer text (formula injection)
        writer.writerow(["session", "starts", "location", "name", "email", "booking",
                         "company", "special requirements", "attendance"])
        attendees = Attendee.objects.filter(
            booking__session__in=self.get_queryset(request).filter(pk__in=queryset),
            booking__status__in=[Booking.Status.PAID, Booking.Status.COMPLETED,
                                 Booking.Status.NO_SHOW],
        ).select_related("booking__session__course", "booking__session__location").order_by(
            "booking__session__starts_at", "name")
        for a in attendees:
            session = a.booking.session
            writer.writerow([session.course.title, session.starts_at.isoformat(),
                             session.location.name, a.name, a.email, a.booking.reference,
                             a.booking.company_name, a.booking.special_requirements,
                             a.get_attendance_display()])
        return response

    @admin.action(description="Mark every paid attendee attended (issues certificates)",
                  permissions=["change"])
    def mark_everyone_attended(self, request, queryset):
        attendees = Attendee.objects.filter(
            booking__session__in=queryset,
            booking__status__in=[Booking.Status.PAID, Booking.Status.COMPLETED])
        try:
            result = attendance_record(attendee_ids=list(attendees.values_list("pk", flat=True)),
                                       attendance=Attendee.Attendance.ATTENDED,
                                       actor=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(request, result.summary(
                              Attendee.Attendance.ATTENDED,
                              "; their certificates are being issued and emailed."),
                          messages.WARNING if result.refused else messages.SUCCESS)

    @admin.action(description="Cancel sessions: refund and notify every booking",
                  permissions=["change"])
    def cancel_sessions(self, request, queryset):
        for session in queryset:
            summary = session_cancel(session_id=session.pk, actor=request.user,
                                     reason="The session had to be cancelled.")
            # What the ledger says once the refunds have been sent, not what was asked for.
            refunds = Refund.objects.filter(pk__in=summary["refund_ids"])
            failed = refunds.filter(status=Refund.Status.FAILED).exists()
            self.message_user(
                request,
                f"{session}: cancelled; this run cancelled "
                f"{counted(summary['bookings'], 'booking')}. "
                f"Refunds: {refund_outcomes_text(refunds=refunds, currency=session.currency)}."
                + (" Retry the failed ones with the action “Retry failed refunds” here."
                   if failed else ""),
                messages.WARNING if failed else messages.SUCCESS,
            )

    @admin.action(description="Retry failed refunds of the selected sessions",
                  permissions=["change"])
    def retry_failed_refunds(self, request, queryset):
        retried = 0
        for refund in session_failed_refunds(session_ids=list(queryset.values_list("pk",
                                                                                    flat=True))):
            try:
                refund_retry(refund=refund, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"Refund {refund.pk}: {error.message}",
                                  messages.WARNING)
            else:
                retried += 1
        self.message_user(request, f"{counted(retried, 'failed refund')} sent again; the "
                                   "refund list shows how each one ends.")

    @admin.display(description="Refunds (from the ledger)")
    def refund_summary(self, obj):
        if not obj.pk:
            return "—"
        return refund_outcomes_text(
            refunds=Refund.objects.filter(payment__booking__session=obj), currency=obj.currency)

    @admin.display(description="Attendees")
    def attendee_list(self, obj):
        if not obj.pk:
            return "—"
        attendees = Attendee.objects.filter(
            booking__session=obj,
            booking__status__in=[Booking.Status.PAID, Booking.Status.COMPLETED,
                                 Booking.Status.NO_SHOW],
        ).select_related("booking").order_by("name")
        if not attendees:
            return "No paid attendees yet."
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((a.name, a.email, a.booking.reference, a.booking.special_requirements or "—",
              a.get_attendance_display()) for a in attendees))
        return format_html(
            "<table><thead><tr><th>Name</th><th>Email</th><th>Booking</th>"
            "<th>Special requirements</th><th>Attendance</th></tr></thead><tbody>{}</tbody>"
            "</table>", rows)

    def get_queryset(self, request):
        sessions = super().get_queryset(request)
        if is_instructor_only(request.user):
            sessions = sessions.filter(trainer=request.user)
        return sessions

    @admin.display(description="Seats left")
    def seats_left(self, obj):
        return obj.seats_left
