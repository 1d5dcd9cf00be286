"""A company contact's pages: the companies they book for, each company's bookings (made
by any of its contacts), and "I book for my employer" requests. A company is found only
among the signed-in user's own companies: anyone else gets a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.bookings.access import booking_link_token
from apps.companies.models import CompanyLinkRequest
from apps.companies.selectors import companies_of_contact, company_for_contact
from apps.companies.services import company_link_request_create
from apps.core.errors import DomainError
from apps.payments.on_account import company_bookings

from .forms import CompanyLinkRequestForm


@login_required
@require_http_methods(["GET", "POST"])
def portal_companies(request):
    form = CompanyLinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            company_link_request_create(user=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Thank you: our team will check and email you.")
            return redirect("portal:companies")
    return render(request, "portal/companies.html", {
        "companies": list(companies_of_contact(user=request.user)),
        "requests": CompanyLinkRequest.objects.filter(user=request.user)[:5],
        "form": form,
    })


@login_required
@require_GET
def portal_company(request, company_id):
    company = company_for_contact(user=request.user, company_id=company_id)
    if company is None:
        raise Http404("You are not a contact of that company.")
    bookings = list(company_bookings(company_id=company.pk))
    for booking in bookings:
        # The booking's own page, signed for its purchaser: a contact manages the company's
        # bookings as the colleague who made them would.
        booking.link = reverse("portal:access", args=[
            booking_link_token(booking=booking, email=booking.purchaser.email)])
    return render(request, "portal/company.html", {"company": company, "bookings": bookings})
