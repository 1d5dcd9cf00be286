"""Input serializers validate shapes; output serializers shape what services return.
Business rules stay in the services."""

from django.conf import settings
from rest_framework import serializers

from apps.bookings.models import Booking, BookingDiscount
from apps.payments.models import Payment
from apps.payments.staff_bookings import StaffPayment
from apps.pricing.quotes import CODE_MAX_LENGTH
from apps.refunds.selectors import customer_view_of_booking
from apps.sessions.models import CourseSession
from apps.users.models import User

MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1

def _values(choices) -> str:
    return "One of: " + ", ".join(choices.values) + "."


class QuerySerializer(serializers.Serializer):
    """Query parameters as the schema describes them: each given at most once, and an empty
    value is not "absent" (it is refused unless the field allows blank)."""

    def to_internal_value(self, data):
        errors = {}
        for name, field in self.fields.items():
            values = data.getlist(name) if hasattr(data, "getlist") else (
                [data[name]] if name in data else [])
            if len(values) > 1:
                errors[name] = ["Give this parameter once."]
            elif values == [""] and not getattr(field, "allow_blank", False):
                errors[name] = ["May not be empty: leave the parameter out instead."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


# --- Sessions -------------------------------------------------------------------


class SessionFilterSerializer(QuerySerializer):
    course = serializers.SlugField(required=False, max_length=200,
                                   help_text="Course slug.")
    location = serializers.IntegerField(required=False, min_value=1, max_value=MAX_BIGINT,
                                        help_text="Location id.")
    date_from = serializers.DateField(required=False, help_text="First day (YYYY-MM-DD).")
    date_to = serializers.DateField(required=False, help_text="Last day (YYYY-MM-DD), not "
                                    "before date_from (a 400 otherwise).")

    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        return attrs


class CourseOutSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()


class LocationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    city = serializers.CharField()
    postcode = serializers.CharField()


class SessionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    course = CourseOutSerializer()
    location = LocationOutSerializer()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.CharField(help_text=_values(CourseSession.Status))
    capacity = serializers.IntegerField()
    seats_left = serializers.IntegerField()
    price = serializers.IntegerField(help_text="Per seat, minor units.")
    currency = serializers.CharField()


class SessionSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    course = CourseOutSerializer()
    location = serializers.CharField(source="location.name")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


# --- Bookings (shared pieces) -----------------------------------------------------


class AttendeeOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.EmailField()
    attendance = serializers.CharField()
    certificate_number = serializers.SerializerMethodField()

    def get_certificate_number(self, attendee) -> str | None:
        certificate = getattr(attendee, "certificate", None)
        return certificate.number if certificate else None


class RefundOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class PaymentOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    method = serializers.CharField(help_text=_values(Payment.Method))
    status = serializers.CharField(help_text=_values(Payment.Status))
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    card_brand = serializers.CharField()
    card_last4 = serializers.CharField()
    created_at = serializers.DateTimeField()
    succeeded_at = serializers.DateTimeField(allow_null=True)
    refunds = RefundOutSerializer(many=True)


# --- Customer ---------------------------------------------------------------------


class CustomerBookingSerializer(serializers.Serializer):
    """A booking as the portal shows it to this customer: the purchaser sees everything,
    an attendee only their own seat and no payments."""

    reference = serializers.CharField()
    role = serializers.SerializerMethodField()
    status = serializers.CharField(help_text=_values(Booking.Status))
    session = SessionSummarySerializer()
    seats = serializers.SerializerMethodField()
    total_amount = serializers.SerializerMethodField()
    currency = serializers.CharField()
    payment_status = serializers.SerializerMethodField()
    paid = serializers.SerializerMethodField()
    refunded = serializers.SerializerMethodField()
    attendees = serializers.SerializerMethodField()
    payments = serializers.SerializerMethodField()
    certificates = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def _view(self, booking) -> dict:
        views = self.context.setdefault("_booking_views", {})
        if booking.pk not in views:
            views[booking.pk] = customer_view_of_booking(
                booking=booking, user=self.context["request"].user)
        return views[booking.pk]

    def get_role(self, booking) -> str:
        return self._view(booking)["role"]

    def get_seats(self, booking) -> int:
        return self._view(booking)["seats"]

    def get_total_amount(self, booking) -> int | None:
        return self._view(booking)["total_amount"]

    def _payments(self, booking):
        return self._view(booking)["payments"]

    def get_payment_status(self, booking) -> str | None:
        payments = self._payments(booking)
        return payments[-1].status if payments else None

    def get_paid(self, booking) -> int | None:
        view = self._view(booking)
        return view["paid"] if view["is_purchaser"] else None

    def get_refunded(self, booking) -> int | None:
        view = self._view(booking)
        return view["refunded"] if view["is_purchaser"] else None

    def _attendees(self, booking):
        return self._view(booking)["attendees"]

    def get_attendees(self, booking) -> AttendeeOutSerializer(many=True):
        return AttendeeOutSerializer(self._attendees(booking), many=True).data

    def get_payments(self, booking) -> PaymentOutSerializer(many=True):
        return PaymentOutSerializer(self._payments(booking), many=True).data

    def get_certificates(self, booking) -> list[str]:
        numbers = []
        for attendee in self._attendees(booking):
            certificate = getattr(attendee, "certificate", None)
            if certificate and not certificate.revoked_at:
                numbers.append(certificate.number)
        return numbers


class CustomerTotalsSerializer(serializers.Serializer):
    bookings = serializers.IntegerField(help_text="Paid, completed or no-show bookings bought.")
    spent = serializers.IntegerField(help_text="Minor units, net of refunds.")
    upcoming_bookings = serializers.IntegerField()
    certificates = serializers.IntegerField()


class CustomerMeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    company_name = serializers.CharField()
    marketing_consent = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    totals = CustomerTotalsSerializer()


# --- Staff ------------------------------------------------------------------------


class UserSearchSerializer(QuerySerializer):
    email = serializers.CharField(required=False, allow_blank=True, max_length=254,
                                  trim_whitespace=False,
                                  help_text="Part of an email address (case-insensitive).")


class AdminUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    company_name = serializers.CharField()
    phone = serializers.CharField()
    role = serializers.CharField(help_text=_values(User.Role))
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    total_bookings = serializers.IntegerField()
    total_spent = serializers.IntegerField()


class BookingDiscountOutSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=_values(BookingDiscount.Kind))
    code = serializers.SerializerMethodField()
    label = serializers.CharField()
    amount = serializers.IntegerField(help_text="Taken off the list price, minor units.")

    def get_code(self, discount) -> str | None:
        return discount.code.code if discount.code_id else None


class AdminBookingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.CharField(help_text=_values(Booking.Status))
    session = SessionSummarySerializer()
    purchaser = serializers.SerializerMethodField()
    seats = serializers.IntegerField()
    unit_price = serializers.IntegerField()
    list_amount = serializers.IntegerField(help_text="Seats × unit price, minor units.")
    discounts = BookingDiscountOutSerializer(many=True)
    total_amount = serializers.IntegerField(help_text="What is charged, minor units.")
    currency = serializers.CharField()
    company_name = serializers.CharField()
    hold_expires_at = serializers.DateTimeField(allow_null=True)
    company_id = serializers.IntegerField(
        allow_null=True, help_text="The company account it is booked on (or for), if any.")
    purchase_order = serializers.CharField(help_text="PO number of a booking on account.")
    payment_due_date = serializers.DateField(
        allow_null=True, help_text="Set for a booking on account: the invoice's due date.")
    attendees = AttendeeOutSerializer(many=True)
    payments = PaymentOutSerializer(many=True)
    payment_url = serializers.SerializerMethodField(
        help_text="Where the purchaser pays by card while the booking is pending.")
    created_at = serializers.DateTimeField()

    def get_purchaser(self, booking) -> AdminUserSerializer:
        return AdminUserSerializer(booking.purchaser).data

    def get_payment_url(self, booking) -> str | None:
        if booking.status != Booking.Status.PENDING or booking.on_account:
            return None
        return settings.SITE_URL + booking.get_absolute_url()


class AdminUserStatsSerializer(serializers.Serializer):
    bookings_purchased = serializers.IntegerField()
    bookings_attended = serializers.IntegerField()
    total_bookings = serializers.IntegerField()
    total_spent = serializers.IntegerField()
    total_refunded = serializers.IntegerField()
    certificates = serializers.IntegerField()


class ActivityOutSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)
    target_type = serializers.CharField()
    target_id = serializers.CharField()


class NoteOutSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    author = serializers.EmailField(source="author.email", allow_null=True, default=None)
    text = serializers.CharField()


class AdminUserDetailSerializer(AdminUserSerializer):
    stats = AdminUserStatsSerializer()
    recent_bookings = AdminBookingSerializer(many=True)
    payments = PaymentOutSerializer(many=True)
    notes = NoteOutSerializer(many=True, help_text="Staff notes (stored encrypted).")
    activity = ActivityOutSerializer(many=True, help_text="Latest audit entries about them.")


class PurchaserInSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True,
                                      default="")
    company_name = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                         default="")


class AttendeeInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)


ON_ACCOUNT = "account"


class AdminBookingCreateSerializer(serializers.Serializer):
    session_id = serializers.IntegerField(min_value=1, max_value=MAX_BIGINT)
    purchaser = PurchaserInSerializer()
    attendees = AttendeeInSerializer(many=True, allow_empty=False, min_length=1,
                                     max_length=settings.BOOKING_MAX_SEATS)
    payment = serializers.ChoiceField(
        choices=[*StaffPayment.choices,
                 (ON_ACCOUNT, "On account: confirmed now, the company pays by invoice")])
    special_requirements = serializers.CharField(required=False, allow_blank=True,
                                                 max_length=2000, default="")
    discount_code = serializers.CharField(
        required=False, allow_blank=True, max_length=CODE_MAX_LENGTH, default="",
        help_text="A discount code (any case; one per booking). One that cannot be used "
                  "(unknown, inactive, expired, used up, for another course or session) "
                  "is a 400 with code `discount_code_invalid`.")
    company_id = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=MAX_BIGINT,
        help_text="With payment `account`: the approved company whose contact the purchaser is.")
    purchase_order = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                           default="", help_text="PO number (on account).")

    def validate(self, attrs):
        if attrs["payment"] == ON_ACCOUNT and attrs.get("company_id") is None:
            raise serializers.ValidationError(
                {"company_id": "A booking on account needs the company's id."})
        return attrs

    def validate_session_id(self, value):
        # Read whole (with what the invoice and the confirmation name), once: the booking
        # uses it for its unlocked early checks and its price (the seat UPDATE decides).
        self.session = CourseSession.objects.select_related("course", "location").filter(
            pk=value).first()
        if self.session is None:
            raise serializers.ValidationError("No session with this id.")
        return value


class RefundCreateSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, max_value=MAX_INT,
                                      help_text="Minor units (pence).")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                   default="")
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", required=False, max_length=3,
        help_text="Optional ISO 4217 code; when given it must be the payment's currency "
                  "(a refund is always in the payment's currency): otherwise a 400.")


class RefundCreatedSerializer(RefundOutSerializer):
    payment_id = serializers.IntegerField()
    payment_status = serializers.CharField(source="payment.status")
    refundable_left = serializers.IntegerField()
