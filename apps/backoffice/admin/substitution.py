"""Staff substitute an attendee (any time before the start) or correct the spelling of
their name, from the booking: two steps (who, then a confirmation stating what follows),
both through the services in apps/bookings/substitution.py."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from apps.bookings.models import Attendee
from apps.bookings.substitution import (
    attendee_correct_name,
    attendee_substitute,
    substitution_rules,
)
from apps.core.errors import DomainError


def substitute_link(attendee):
    if not attendee.pk:
        return ""
    return format_html('<a href="{}">Substitute or correct name…</a>', reverse(
        "admin:bookings_booking_substitute", args=[attendee.pk]))


class StaffSubstituteForm(forms.Form):
    name = forms.CharField(label="New attendee's full name", max_length=200)
    email = forms.EmailField(label="New attendee's email", max_length=254)
    replacing = forms.EmailField(widget=forms.HiddenInput)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class CorrectNameForm(forms.Form):
    corrected_name = forms.CharField(label="Name, spelled right", max_length=200)


def substitute_view(model_admin, request, attendee_id):
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    attendee = get_object_or_404(
        Attendee.objects.select_related("booking__session__course", "booking__purchaser",
                                        "user"), pk=attendee_id)
    booking = attendee.booking
    back = reverse("admin:bookings_booking_change", args=[booking.pk])
    rules = substitution_rules(booking=booking, by_staff=True)
    form = StaffSubstituteForm(initial={"replacing": attendee.email})
    name_form = CorrectNameForm(initial={"corrected_name": attendee.name})
    confirming = False
    if request.method == "POST" and "corrected_name" in request.POST:
        name_form = CorrectNameForm(request.POST)
        if name_form.is_valid():
            try:
                attendee_correct_name(attendee_id=attendee.pk, actor=request.user,
                                      name=name_form.cleaned_data["corrected_name"])
            except DomainError as error:
                name_form.add_error(None, error.message)
            else:
                model_admin.message_user(request, "Name corrected (same person, nobody "
                                                  "emailed).")
                return redirect(back)
    elif request.method == "POST":
        form = StaffSubstituteForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            if not data["confirmed"]:
                confirming = True  # show the consequences, then confirm
            else:
                try:
                    attendee_substitute(attendee_id=attendee.pk, name=data["name"],
                                        email=data["email"], actor=request.user,
                                        by_staff=True, replacing=data["replacing"])
                except DomainError as error:
                    model_admin.message_user(request, error.message, messages.ERROR)
                else:
                    model_admin.message_user(
                        request, f"{data['name']} now holds the seat that was "
                                 f"{attendee.name}'s; both have been emailed, and the "
                                 "purchaser told.")
                    return redirect(back)
    return TemplateResponse(request, "admin/bookings/substitute_attendee.html", {
        **model_admin.admin_site.each_context(request), "attendee": attendee,
        "booking": booking, "rules": rules, "form": form, "name_form": name_form,
        "confirming": confirming, "back": back, "opts": model_admin.model._meta,
        "title": f"Substitute {attendee.name} on {booking.reference}",
    })
