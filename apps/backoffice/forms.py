from django import forms
from django.core.validators import validate_email
from django.utils import timezone

from apps.backoffice.text import counted
from apps.bookings.services import AttendeeInput
from apps.companies.models import Company
from apps.core.money_forms import MoneyField
from apps.pricing.quotes import CODE_MAX_LENGTH
from apps.sessions.models import CourseSession


class SessionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        """"First Aid — Tue 8 Dec 09:30 — Leeds · 3 seats left": course, time and venue."""
        left = obj.seats_left
        return f"{obj} · " + (f"{counted(left, 'seat')} left" if left else "sold out")


class PhoneBookingForm(forms.Form):
    """A booking taken on the phone: the customer, the seats, and how they will pay."""

    session = SessionChoiceField(queryset=CourseSession.objects.none())
    email = forms.EmailField(label="Customer email")
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    company_name = forms.CharField(max_length=200, required=False)
    phone = forms.CharField(max_length=40, required=False)
    attendees = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One attendee per line: Full name, email",
    )
    special_requirements = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}),
                                           required=False)
    discount_code = forms.CharField(max_length=CODE_MAX_LENGTH, required=False,
                                    help_text="Optional: one code per booking.")
    payment = forms.ChoiceField(choices=[
        ("link", "Send a payment link by email (card)"),
        ("invoice", "Mark as paid by invoice / bank transfer"),
        ("account", "On account: the company below pays by invoice (confirmed now, unpaid)"),
    ], widget=forms.RadioSelect, initial="link")
    company = forms.ModelChoiceField(
        queryset=Company.objects.filter(approved_for_invoice=True), required=False,
        help_text="For a booking on account: the customer must be one of its contacts.")
    purchase_order = forms.CharField(max_length=100, required=False, label="PO number")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = CourseSession.objects.upcoming(
            timezone.now()).select_related("course", "location")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("payment") == "account" and not cleaned.get("company"):
            self.add_error("company", "Choose the company whose account this booking is on.")
        return cleaned

    def clean_attendees(self):
        parsed = []
        for number, line in enumerate(self.cleaned_data["attendees"].splitlines(), start=1):
            if not line.strip():
                continue
            name, _, email = line.rpartition(",")
            email = email.strip()
            try:
                validate_email(email)
            except forms.ValidationError:
                raise forms.ValidationError(
                    f"Line {number}: write 'Full name, email' ({line.strip()!r}).") from None
            if not name.strip():
                raise forms.ValidationError(f"Line {number}: the attendee's name is missing.")
            parsed.append(AttendeeInput(name=name.strip(), email=email))
        if not parsed:
            raise forms.ValidationError("Name at least one attendee.")
        return parsed


class BankTransferForm(forms.Form):
    """A bank transfer received against a booking on account (part or all of it)."""

    amount = MoneyField(min_amount=1)
    note = forms.CharField(max_length=200, required=False,
                           help_text="The bank's reference, or who paid.")

    def __init__(self, *args, currency, outstanding, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"] = MoneyField(currency=currency, min_amount=1,
                                           max_amount=outstanding, initial=outstanding)
