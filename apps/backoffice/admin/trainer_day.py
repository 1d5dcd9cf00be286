"""The trainer's day on a session's admin: the register as a PDF sign-in sheet, and an
attendance page made for a phone (instructors use it for the sessions they teach)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.backoffice.register import register_pdf, session_register
from apps.bookings.models import Attendee
from apps.certificates.attendance import attendance_record
from apps.core.errors import DomainError

MARKABLE = {Attendee.Attendance.ATTENDED, Attendee.Attendance.NO_SHOW}


class TrainersDayMixin:
    def trainer_day_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:session_id>/register.pdf", view(self.register_view),
                 name="course_sessions_coursesession_register"),
            path("<int:session_id>/attendance/", view(self.attendance_view),
                 name="course_sessions_coursesession_attendance"),
        ]

    def _visible_session(self, request, session_id):
        # get_queryset keeps an instructor to the sessions they teach.
        session = self.get_queryset(request).select_related(
            "course", "location", "trainer").filter(pk=session_id).first()
        if session is None or not self.has_view_permission(request, session):
            raise Http404("No such session.")
        return session

    @staticmethod
    def _register_response(sessions) -> HttpResponse:
        response = HttpResponse(register_pdf(sessions=sessions), content_type="application/pdf")
        name = (f"register-{sessions[0].starts_at:%Y-%m-%d}-{sessions[0].pk}.pdf"
                if len(sessions) == 1 else "registers.pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def register_view(self, request, session_id):
        return self._register_response([self._visible_session(request, session_id)])

    def print_register(self, request, queryset):
        sessions = list(queryset.select_related("course", "location", "trainer")
                        .order_by("starts_at", "pk"))
        return self._register_response(sessions)

    print_register.short_description = "Print attendance register (PDF)"
    print_register.allowed_permissions = ["view"]

    def attendance_view(self, request, session_id):
        session = self._visible_session(request, session_id)
        if not request.user.has_perm("bookings.change_attendee"):
            raise PermissionDenied
        if request.method == "POST":
            attendance = request.POST.get("attendance")
            attendee = Attendee.objects.filter(
                pk=request.POST.get("attendee") or 0, booking__session=session).first()
            if attendee is None or attendance not in MARKABLE:
                self.message_user(request, "Choose a person on this session and Attended "
                                           "or No-show.", messages.ERROR)
            else:
                try:
                    result = attendance_record(attendee_ids=[attendee.pk],
                                               attendance=attendance, actor=request.user)
                except DomainError as error:
                    self.message_user(request, error.message, messages.ERROR)
                else:
                    label = Attendee.Attendance(attendance).label.lower()
                    if result.refused:
                        self.message_user(request, " ".join(result.refused), messages.WARNING)
                    else:
                        self.message_user(request, f"{attendee.name}: {label}.")
            return redirect("admin:course_sessions_coursesession_attendance", session.pk)
        return TemplateResponse(request, "admin/course_sessions/attendance.html", {
            **self.admin_site.each_context(request), "session": session,
            "attendees": session_register(session_ids=[session.pk]),
            "started": session.starts_at <= timezone.now(),
            "attended": Attendee.Attendance.ATTENDED, "no_show": Attendee.Attendance.NO_SHOW,
            "title": f"Attendance — {session.course.title}", "opts": self.model._meta,
        })

    def trainer_day_links(self, obj):
        if not obj.pk:
            return "—"
        return format_html(
            '<a class="button" href="{}">Attendance register (PDF)</a> '
            '<a class="button" href="{}">Mark attendance (phone-friendly)</a>',
            reverse("admin:course_sessions_coursesession_register", args=[obj.pk]),
            reverse("admin:course_sessions_coursesession_attendance", args=[obj.pk]))

    trainer_day_links.short_description = "The day"
