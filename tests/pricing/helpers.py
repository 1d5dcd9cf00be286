from apps.bookings.services import AttendeeInput, BookingRequest, booking_create
from apps.pricing.models import DiscountCode


def make_code(code="SPRING10", **fields) -> DiscountCode:
    fields.setdefault("percent", 10 if fields.get("kind", "percentage") == "percentage"
                      else None)
    return DiscountCode.objects.create(code=code, **fields)


def book_with_code(session, *, code="", email="buyer@example.com", seats=1, now=None):
    attendees = [AttendeeInput(name="Buyer One", email=email)] + [
        AttendeeInput(name=f"Guest {n}", email=f"guest{n}.{email}") for n in range(1, seats)]
    return booking_create(request=BookingRequest(
        session_id=session.pk, purchaser_email=email, purchaser_first_name="Buyer",
        purchaser_last_name="One", attendees=attendees, discount_code=code), now=now)
