import uuid

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.bookings.selectors import pending_booking_for_same_people
from apps.bookings.services import AttendeeInput, BookingRequest, booking_validate_request
from apps.core.errors import DomainError
from apps.pricing.quotes import CODE_MAX_LENGTH, DiscountCodeError, PriceQuote, price_quote
from apps.users.models import normalize_email


class SubmissionTokenField(forms.UUIDField):
    """The double-submit guard, not something a customer can see or correct: a missing or
    mangled value means "no guard for this submission", never an error they cannot fix."""

    widget = forms.HiddenInput

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            return None


class BookingForm(forms.Form):
    """Seats, one named attendee per seat, and the purchaser. Attendee fields are built
    for the number of seats asked for (`attendee_<n>_name`, `attendee_<n>_email`)."""

    seats = forms.TypedChoiceField(coerce=int, label="Number of seats")
    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    email = forms.EmailField(max_length=254, label="Email",
                             help_text="Your confirmation goes here.")
    phone = forms.CharField(max_length=40, required=False, label="Phone (optional)")
    company_name = forms.CharField(
        max_length=200, required=False, label="Company (for group bookings)"
    )
    special_requirements = forms.CharField(
        required=False,
        max_length=2000,
        label="Special requirements (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Access needs, dietary requirements, anything the trainer should know.",
    )
    accept_terms = forms.BooleanField(
        label="I accept the terms and the cancellation policy",
        error_messages={"required": "Please tick the box to accept the terms and the "
                                    "cancellation policy: we cannot book without it."},
    )
    discount_code = forms.CharField(
        max_length=CODE_MAX_LENGTH, required=False, label="Discount code (optional)",
        help_text="One code per booking.",
        error_messages={"max_length": "That is longer than any discount code we issue."})
    submission_token = SubmissionTokenField(required=False)
    focus_summary = False  # set by focus_first_error()
    quote: PriceQuote | None = None  # the price with the code, once clean() accepted it
    # Booking on account (apps.payments.on_account): offered only to a signed-in contact of
    # a company approved for invoicing; "card" otherwise.
    pay_by = forms.ChoiceField(
        required=False, label="How will you pay?", widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Paying by invoice is open to contacts of a "
                                          "company approved for it: please pay by card."})
    purchase_order = forms.CharField(max_length=100, required=False, label="PO number",
                                     help_text="Your company's purchase order number.")
    i_am_attending = forms.BooleanField(
        required=False, label="I am attending (attendee 1 is me)",
        help_text="Your name and email below are used for the first seat.")

    def __init__(self, *args, session, invoice_companies=(), signed_in_email="", **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.invoice_companies = {str(c.pk): c for c in invoice_companies}
        self.signed_in_email = signed_in_email
        self.fields["pay_by"].choices = [("card", "Pay now by card")] + [
            (pk, f"Pay by invoice ({c.name})") for pk, c in self.invoice_companies.items()]
        self.fields["pay_by"].initial = "card"
        most = max(1, min(settings.BOOKING_MAX_SEATS, session.seats_left or 1))
        if self.is_bound:
            # More than are left is refused in clean() with a message that says how many
            # (or, for a resubmission of the booking that took them, let through).
            most = max(most, min(self._posted_seats(), settings.BOOKING_MAX_SEATS))
        self.fields["seats"].choices = [(n, str(n)) for n in range(1, most + 1)]
        self.fields["submission_token"].initial = uuid.uuid4()
        self.seat_count = self._seat_count(most)
        for n in range(1, self.seat_count + 1):
            self.fields[f"attendee_{n}_name"] = forms.CharField(
                max_length=200, label=f"Attendee {n}: full name"
            )
            self.fields[f"attendee_{n}_email"] = forms.EmailField(
                max_length=254, label=f"Attendee {n}: email"
            )
        if self.purchaser_attends:
            # The purchaser's own details fill the first seat: nothing to type twice.
            for name in ("attendee_1_name", "attendee_1_email"):
                self.fields[name].required = False
                self.fields[name].widget = forms.HiddenInput()
        # Inline validation swaps the form's HTML while the customer may still be typing:
        # HTMX keeps these inputs as they are (value, focus, caret) and swaps the rest.
        for name, field in self.fields.items():
            if name not in ("seats", "submission_token") \
                    and not isinstance(field.widget, forms.HiddenInput):
                field.widget.attrs["hx-preserve"] = "true"

    @property
    def purchaser_attends(self) -> bool:
        if self.is_bound:
            return self.fields["i_am_attending"].widget.value_from_datadict(
                self.data, self.files, self.add_prefix("i_am_attending"))
        return bool(self.initial.get("i_am_attending"))
    def _posted_seats(self) -> int:
        try:
            return int(self.data.get("seats"))
        except (TypeError, ValueError):
            return 1

    def _seat_count(self, most):
        raw = self.data.get("seats") if self.is_bound else self.initial.get("seats")
        try:
            return max(1, min(int(raw), most))
        except (TypeError, ValueError):
            return 1

    def attendee_rows(self):
        return [
            (n, self[f"attendee_{n}_name"], self[f"attendee_{n}_email"])
            for n in range(1, self.seat_count + 1)
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("i_am_attending"):
            full_name = f"{cleaned.get('first_name', '')} {cleaned.get('last_name', '')}"
            cleaned["attendee_1_name"] = full_name.strip()
            cleaned["attendee_1_email"] = cleaned.get("email", "")
        seats = cleaned.get("seats", 1)
        if seats > self.session.seats_left and not self._submitted_again(cleaned):
            left = self.session.seats_left
            raise ValidationError(
                "Sorry, this session is sold out." if left == 0
                else f"Only {left} seat{'s' if left != 1 else ''} left: you asked for {seats}.",
                code="sold_out",
            )
        seen = {}
        for n in range(1, self.seat_count + 1):
            email = normalize_email(cleaned.get(f"attendee_{n}_email", ""))
            if not email:
                continue
            if email in seen:
                self.add_error(
                    f"attendee_{n}_email",
                    f"Attendee {seen[email]} already has this email: each attendee needs "
                    "their own (it is where their certificate goes).",
                )
            seen.setdefault(email, n)
        self._price(cleaned)
        self._clean_on_account(cleaned)
        if not self.errors:
            try:
                booking_validate_request(self.to_request(session_id=self.session.pk))
            except DomainError as error:
                raise ValidationError(error.message) from error
        return cleaned

    def _price(self, cleaned) -> None:
        """The price with the code typed (a code that cannot be used is an error on its
        field; booking_create checks it again when it takes the use)."""
        try:
            self.quote = price_quote(session=self.session, seats=cleaned.get("seats", 1),
                                     code_text=cleaned.get("discount_code", ""))
        except DiscountCodeError as error:
            self.add_error("discount_code", error.message)

    def price(self) -> PriceQuote:
        """The price the summary shows: with the accepted code, else without a code."""
        if self.quote is not None:
            return self.quote
        return price_quote(session=self.session, seats=self.seat_count)

    def _clean_on_account(self, cleaned) -> None:
        if self.has_error("pay_by") and not self.invoice_companies:
            # The choice is not on this customer's page: say it where they will see it.
            self.add_error(None, self.errors.pop("pay_by"))
        company = self.on_account_company
        if company is None:
            return
        if normalize_email(cleaned.get("email", "")) != normalize_email(self.signed_in_email):
            self.add_error("email", f"A booking on {company.name}'s account is made in your own "
                                    f"name: use your sign-in email ({self.signed_in_email}).")
        if company.purchase_order_required and not cleaned.get("purchase_order", "").strip():
            self.add_error("purchase_order", f"{company.name} needs a purchase order (PO) "
                                             "number on every booking: please enter it.")

    @property
    def on_account_company(self):
        """The company chosen to pay by invoice, or None for a card payment."""
        if not self.is_bound:
            return None
        return self.invoice_companies.get(self.data.get("pay_by", ""))

    def _submitted_again(self, cleaned) -> bool:
        """The same people booked again by the same purchaser while their booking holds
        the seats: not "sold out", the service hands that booking back."""
        emails = [normalize_email(cleaned.get(f"attendee_{n}_email", ""))
                  for n in range(1, self.seat_count + 1)]
        if not all(emails) or not cleaned.get("email"):
            return False
        return pending_booking_for_same_people(
            session_id=self.session.pk, purchaser_email=normalize_email(cleaned["email"]),
            emails=emails, now=timezone.now()) is not None

    def to_request(self, *, session_id) -> BookingRequest:
        data = self.cleaned_data
        return BookingRequest(
            session_id=session_id,
            purchaser_email=data["email"],
            purchaser_first_name=data["first_name"].strip(),
            purchaser_last_name=data["last_name"].strip(),
            purchaser_phone=data.get("phone", ""),
            company_name=data.get("company_name", "").strip(),
            special_requirements=data.get("special_requirements", ""),
            submission_token=data.get("submission_token") or uuid.uuid4(),
            terms_accepted=data["accept_terms"],
            discount_code=data.get("discount_code", ""),
            attendees=[
                AttendeeInput(name=data[f"attendee_{n}_name"], email=data[f"attendee_{n}_email"])
                for n in range(1, self.seat_count + 1)
            ],
        )

    def page_order(self) -> list[str]:
        """Fields in the order the page shows them (the attendees come before "your
        details")."""
        attendees = [f"attendee_{n}_{part}" for n in range(1, self.seat_count + 1)
                     for part in ("name", "email")]
        return ["seats", "i_am_attending", *attendees, "first_name", "last_name", "email",
                "phone", "company_name", "pay_by", "purchase_order", "special_requirements",
                "discount_code"]

    def focus_first_error(self) -> None:
        """After a failed submit the page opens on the first problem: the error summary
        when there is one (it comes first), else the first field in error."""
        if self.non_field_errors():
            self.focus_summary = True
            return
        for name in self.page_order():
            if name in self.errors:
                self.fields[name].widget.attrs["autofocus"] = True
                return

    def errors_for_filled_fields(self):
        """For inline validation while typing: hide 'required' on fields not yet filled."""
        for name in list(self.errors):
            if name != "__all__" and not self.data.get(name):
                del self.errors[name]


class CancelConfirmForm(forms.Form):
    """The refund the customer saw on the button, in minor units: the cancellation goes
    ahead only if it is still what the policy gives."""

    confirmed_amount = forms.IntegerField(min_value=0, max_value=10**9)


class SubstituteForm(forms.Form):
    """Who takes the seat instead; `replacing` is the address the page showed on the seat,
    so a seat that changed hands meanwhile is not changed again on top."""

    name = forms.CharField(label="Their full name", max_length=200)
    email = forms.EmailField(label="Their email address", max_length=254)
    replacing = forms.EmailField(widget=forms.HiddenInput)


class FreshLinkForm(forms.Form):
    """Ask for a fresh booking link: it goes to this address only if it is on the booking."""

    reference = forms.CharField(label="Booking reference", max_length=12)
    email = forms.EmailField(label="Your email address", max_length=254)


class CompanyLinkRequestForm(forms.Form):
    company_name = forms.CharField(max_length=200, label="Company name",
                                   help_text="The employer you book training for.")
    message = forms.CharField(required=False, max_length=1000, label="Anything we should know",
                              widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="Your job title, or who at the company can confirm.")
