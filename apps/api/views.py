"""Thin API views: validate input, call a selector or service, shape the output."""

from django.db import transaction
from django.db.models import Prefetch, Sum
from django.http import HttpResponse
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import escape
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions, generics, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.bookings.idempotency import idempotent_booking_submit
from apps.bookings.models import Attendee, Booking, BookingDiscount
from apps.bookings.selectors import upcoming_bookings
from apps.bookings.services import AttendeeInput, BookingRequest
from apps.certificates.models import Certificate
from apps.core.prefetch import set_prefetched
from apps.payments.models import Payment
from apps.payments.on_account import booking_on_account_create
from apps.payments.staff_bookings import staff_booking_create
from apps.refunds.models import Refund
from apps.refunds.selectors import bookings_naming_person, customer_booking, customer_bookings
from apps.refunds.services import refund_create, refundable_amount
from apps.sessions.selectors import catalogue_sessions, session_for_page
from apps.users.models import ActivityLog, User
from apps.users.services import personal_data_viewed

from . import idempotency
from . import serializers as s
from .errors import ErrorSerializer, error_body
from .pagination import SessionCursorPagination
from .permissions import IsStaffOperator


def errors(*codes: int) -> dict:
    descriptions = {
        400: "Validation error (`fields` says which).",
        401: "Not signed in / no valid token.",
        403: "Signed in but not allowed.",
        404: "Not found (or not yours).",
        409: "Conflict with the current state: sold out, a cancelled or started session, "
             "an invalid state transition, a refund more than is still refundable.",
        422: "Idempotency-Key reused with a different body, or retired.",
        429: "Throttled.",
        503: "Payment provider unavailable.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=descriptions[code])
            for code in codes}


class ApiMixin:
    # Token first: its challenge header makes "not signed in" a 401, not a 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]


# --- Public: sessions -----------------------------------------------------------------


@extend_schema(
    tags=["sessions"],
    summary="Upcoming sessions with seats left",
    parameters=[s.SessionFilterSerializer],
    responses={200: s.SessionOutSerializer(many=True), **errors(400, 404, 429)},
)
class SessionListView(ApiMixin, generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = s.SessionOutSerializer
    pagination_class = SessionCursorPagination

    def get_queryset(self):
        filters = s.SessionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        sessions = catalogue_sessions(course_slug=data.get("course", ""),
                                      location_id=str(data.get("location", "")))
        # Dates are days in the site's time zone.
        if data.get("date_from"):
            sessions = sessions.filter(starts_at__date__gte=data["date_from"])
        if data.get("date_to"):
            sessions = sessions.filter(starts_at__date__lte=data["date_to"])
        return sessions


@extend_schema(
    tags=["sessions"],
    summary="One session",
    responses={200: s.SessionOutSerializer, **errors(404, 429)},
)
class SessionDetailView(ApiMixin, APIView):
    permission_classes = [AllowAny]

    def get(self, request, pk: int):
        session = session_for_page(session_id=pk)
        if session is None:
            raise exceptions.NotFound("No session with this id.")
        return Response(s.SessionOutSerializer(session).data)


# --- Customer -----------------------------------------------------------------------


def _with_certificates(bookings):
    return bookings.prefetch_related("attendees__certificate")


@extend_schema(
    tags=["customer"],
    summary="The signed-in customer's profile and totals",
    responses={200: s.CustomerMeSerializer, **errors(401, 429)},
)
class CustomerMeView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        user = request.user
        now = timezone.now()
        upcoming = upcoming_bookings(customer_bookings(user=user), now=now).count()
        certificates = Certificate.objects.filter(user=user, revoked_at__isnull=True).count()
        data = {
            "id": user.pk, "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "phone": user.phone,
            "company_name": user.company_name, "marketing_consent": user.marketing_consent,
            "date_joined": user.date_joined,
            "totals": {"bookings": user.total_bookings, "spent": user.total_spent,
                       "upcoming_bookings": upcoming, "certificates": certificates},
        }
        return Response(s.CustomerMeSerializer(data).data)


@extend_schema(
    tags=["customer"],
    summary="Bookings the customer bought or attends",
    responses={200: s.CustomerBookingSerializer(many=True), **errors(401, 404, 429)},
)
class CustomerBookingListView(ApiMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.CustomerBookingSerializer

    def get_queryset(self):
        return _with_certificates(customer_bookings(user=self.request.user))


@extend_schema(
    tags=["customer"],
    summary="One of the customer's bookings",
    responses={200: s.CustomerBookingSerializer, **errors(401, 404, 429)},
)
class CustomerBookingDetailView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request, reference: str):
        booking = customer_booking(user=request.user, reference=reference)
        if booking is None:
            raise exceptions.NotFound("No booking with that reference is yours.")
        booking = _with_certificates(
            customer_bookings(user=request.user).filter(pk=booking.pk)).get()
        return Response(s.CustomerBookingSerializer(booking, context={"request": request}).data)


# --- Staff --------------------------------------------------------------------------


def _admin_bookings():
    return Booking.objects.select_related(
        "session__course", "session__location", "purchaser").prefetch_related(
        Prefetch("attendees", queryset=Attendee.objects.select_related("certificate")),
        Prefetch("payments", queryset=Payment.objects.order_by("attempt")
                 .prefetch_related("refunds")),
        Prefetch("discounts", queryset=BookingDiscount.objects.select_related("code")),
    )


@extend_schema(
    tags=["staff"],
    summary="Search users by email",
    parameters=[s.UserSearchSerializer],
    responses={200: s.AdminUserSerializer(many=True), **errors(400, 401, 403, 404, 429)},
)
class AdminUserListView(ApiMixin, generics.ListAPIView):
    permission_classes = [IsStaffOperator]
    serializer_class = s.AdminUserSerializer

    def get_queryset(self):
        search = s.UserSearchSerializer(data=self.request.query_params)
        search.is_valid(raise_exception=True)
        users = User.objects.order_by("email", "pk")
        email = search.validated_data.get("email", "").strip()
        if email:
            users = users.filter(email__icontains=email)
        return users


@extend_schema(
    tags=["staff"],
    summary="A user with statistics, recent bookings, payments and activity",
    responses={200: s.AdminUserDetailSerializer, **errors(401, 403, 404, 429)},
)
class AdminUserDetailView(ApiMixin, APIView):
    permission_classes = [IsStaffOperator]

    def get(self, request, pk: int):
        user = User.objects.filter(pk=pk).first()
        if user is None:
            raise exceptions.NotFound("No user with this id.")
        personal_data_viewed(viewer=request.user, user_id=user.pk, target=user,
                             where="staff API: user detail")
        bookings = _admin_bookings().filter(
            pk__in=bookings_naming_person(user=user).values("pk")).order_by("-created_at")
        payments = Payment.objects.filter(user=user).prefetch_related("refunds") \
            .order_by("-created_at")[:50]
        refunded = Refund.objects.filter(payment__user=user, status=Refund.Status.SUCCEEDED) \
            .aggregate(total=Sum("amount"))["total"] or 0
        data = {
            **s.AdminUserSerializer(user).data,
            "stats": {
                "bookings_purchased": Booking.objects.filter(purchaser=user).count(),
                "bookings_attended": Attendee.objects.filter(user=user).count(),
                "total_bookings": user.total_bookings,
                "total_spent": user.total_spent,
                "total_refunded": refunded,
                "certificates": Certificate.objects.filter(user=user).count(),
            },
            "recent_bookings": s.AdminBookingSerializer(bookings[:10], many=True).data,
            "payments": s.PaymentOutSerializer(payments, many=True).data,
            "notes": s.NoteOutSerializer(user.notes.select_related("author")[:50],
                                         many=True).data,
            "activity": s.ActivityOutSerializer(
                ActivityLog.objects.filter(user=user).select_related("actor")[:20],
                many=True).data,
        }
        return Response(data)


BOOKING_EXAMPLE = {
    "session_id": 42,
    "purchaser": {"email": "buyer@acme.example", "first_name": "Ada", "last_name": "Lovelace",
                  "company_name": "Acme Ltd"},
    "attendees": [{"name": "Ada Lovelace", "email": "buyer@acme.example"},
                  {"name": "Charles Babbage", "email": "charles@acme.example"}],
    "payment": "invoice",
}


@extend_schema(
    tags=["staff"],
    summary="Create a booking for a customer (invoice: paid now; card: pending)",
    request=s.AdminBookingCreateSerializer,
    parameters=[OpenApiParameter(
        idempotency.HEADER,
        {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH,
         "pattern": "^[!-~]+$"},
        OpenApiParameter.HEADER, required=False,
        description=idempotency.SCHEMA_DESCRIPTION)],
    examples=[OpenApiExample("Invoice booking", value=BOOKING_EXAMPLE, request_only=True)],
    responses={201: s.AdminBookingSerializer, **errors(400, 401, 403, 404, 409, 422, 429, 503)},
)
class AdminBookingCreateView(ApiMixin, APIView):
    permission_classes = [IsStaffOperator]

    def dispatch(self, request, *args, **kwargs):
        # One database transaction for the whole request (issue #22): the token's read and
        # the session check no longer commit on their own. An error that leaves the key's
        # block marks it for rollback, so a refusal that is not remembered leaves nothing.
        with transaction.atomic():
            return super().dispatch(request, *args, **kwargs)

    def post(self, request):
        key = idempotency.read_key(request)
        incoming = s.AdminBookingCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = {**incoming.validated_data, "session": incoming.session}
        if key is None:
            with transaction.atomic():
                booking = self._create(request, data, None, token_unused=True)
                body = self._created_booking_body(booking)
            return Response(body, status=status.HTTP_201_CREATED)

        token = idempotency.submission_token(user_id=request.user.pk, key=key)
        created = {}

        def create(token_unused: bool):
            # In the key's transaction: the answer is read before the commit, not after.
            booking = self._create(request, data, token, token_unused=token_unused)
            created[booking.pk] = self._created_booking_body(booking)
            return booking

        outcome = idempotent_booking_submit(
            token=token, request_hash=idempotency.body_hash(incoming.initial_data),
            caller=request.user, create=create)
        if outcome.error is not None:
            response = Response(error_body(outcome.error["code"], outcome.error["message"]),
                                status=outcome.status)
        else:
            body = created.get(outcome.booking_id) or self._booking_body(outcome.booking_id)
            response = Response(body, status=outcome.status)
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    @staticmethod
    def _booking_body(booking_id: int) -> dict:
        return s.AdminBookingSerializer(_admin_bookings().get(pk=booking_id)).data

    @classmethod
    def _created_booking_body(cls, booking: Booking) -> dict:
        """The booking this request has just made, answered from the rows it wrote (this
        transaction has not committed, so nobody else can have changed them): the booking
        as the services left it, its attendees (none has a certificate yet), discounts and
        the payment recorded (no refund yet), plus one read of the purchaser's totals as
        they are now (moved with F() updates, by other bookings too). A booking the
        request did not make (a repeat of a submission) is read in full."""
        attendees = getattr(booking, "created_attendees", None)
        payment = getattr(booking, "recorded_payment", None)
        if attendees is None or (payment is None and booking.status == Booking.Status.PAID
                                 and booking.total_amount):
            return cls._booking_body(booking.pk)
        purchaser = booking.purchaser
        purchaser.total_bookings, purchaser.total_spent = User.objects.filter(
            pk=purchaser.pk).values_list("total_bookings", "total_spent").get()
        for attendee in attendees:
            Attendee.certificate.related.set_cached_value(attendee, None)
        payments = [payment] if payment is not None else []
        for made in payments:
            set_prefetched(made, "refunds", [])
        set_prefetched(booking, "attendees", attendees)
        set_prefetched(booking, "payments", payments)
        discounts = booking.created_discounts
        if any(discount.code_id for discount in discounts):
            discounts = BookingDiscount.objects.filter(booking=booking).select_related("code")
        set_prefetched(booking, "discounts", discounts)
        return s.AdminBookingSerializer(booking).data

    def _create(self, request, data, token, *, token_unused: bool):
        purchaser = data["purchaser"]
        booking_request = BookingRequest(
            session_id=data["session_id"],
            purchaser_email=purchaser["email"],
            purchaser_first_name=purchaser["first_name"],
            purchaser_last_name=purchaser["last_name"],
            company_name=purchaser["company_name"],
            attendees=[AttendeeInput(name=a["name"], email=a["email"])
                       for a in data["attendees"]],
            special_requirements=data["special_requirements"],
            submission_token=token,
            discount_code=data["discount_code"],
        )
        if data["payment"] == s.ON_ACCOUNT:
            return booking_on_account_create(
                request=booking_request, company_id=data["company_id"],
                purchase_order=data["purchase_order"], actor=request.user)
        return staff_booking_create(request=booking_request, payment=data["payment"],
                                    actor=request.user, token_unused=token_unused,
                                    session=data["session"])


@extend_schema(
    tags=["staff"],
    summary="Refund part or all of a payment",
    request=s.RefundCreateSerializer,
    responses={201: s.RefundCreatedSerializer, **errors(400, 401, 403, 404, 409, 429)},
)
class AdminRefundCreateView(ApiMixin, APIView):
    permission_classes = [IsStaffOperator]

    def post(self, request, pk: int):
        payment = Payment.objects.filter(pk=pk).first()
        if payment is None:
            raise exceptions.NotFound("No payment with this id.")
        incoming = s.RefundCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        currency = incoming.validated_data.get("currency")
        if currency is not None and currency.upper() != payment.currency.upper():
            raise exceptions.ValidationError({"currency": [
                f"This payment is in {payment.currency.upper()}; a refund is made in the "
                f"payment's currency, not {currency.upper()}."]})
        refund = refund_create(payment=payment, amount=incoming.validated_data["amount"],
                               initiator=Refund.Initiator.STAFF,
                               reason=incoming.validated_data["reason"], actor=request.user)
        refund.refresh_from_db()
        payment.refresh_from_db()
        refund.payment = payment
        refund.refundable_left = refundable_amount(payment)
        return Response(s.RefundCreatedSerializer(refund).data, status=status.HTTP_201_CREATED)


# --- Fallbacks and docs -------------------------------------------------------------


@extend_schema(exclude=True)
class NotFoundView(ApiMixin, APIView):
    """Any other /api/ path: a JSON 404 in the API's error shape."""

    permission_classes = [AllowAny]

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.NotFound()

    get = post = put = patch = delete = http_method_not_allowed


DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{favicon}">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{preset}"></script>
<script src="{script}"></script>
</body>
</html>
"""


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI served from our own static files (drf-spectacular-sidecar), with no
    inline script or style, so the site's CSP (script-src 'self') allows it."""

    def _swagger_ui_resource(self, filename):
        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    def _swagger_ui_favicon(self):
        return self._swagger_ui_resource("favicon-32x32.png")

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        if request.GET.get("script") is not None:
            return super().get(request, *args, **kwargs)
        page = DOCS_PAGE.format(
            title=escape(self.title or "API"),
            favicon=escape(self._swagger_ui_favicon()),
            css=escape(self._swagger_ui_resource("swagger-ui.css")),
            bundle=escape(self._swagger_ui_resource("swagger-ui-bundle.js")),
            preset=escape(self._swagger_ui_resource("swagger-ui-standalone-preset.js")),
            script=escape(request.path + "?script="),
        )
        return HttpResponse(page, content_type="text/html; charset=utf-8")
