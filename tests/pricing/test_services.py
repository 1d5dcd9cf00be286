"""Prices with group discounts and codes, and a code's uses through a booking's life."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Attendee, Booking, BookingDiscount
from apps.bookings.selectors import booking_price
from apps.bookings.services import attendee_seat_share, booking_transition, release_expired_holds
from apps.payments.holds import hold_expire
from apps.pricing.models import DiscountCode, GroupDiscount
from apps.pricing.quotes import DiscountCodeError, price_quote, split_evenly
from apps.pricing.services import discount_code_deactivate, discount_code_save
from apps.sessions.models import CourseSession
from apps.users.models import ActivityLog
from tests.factories import CourseFactory, SessionFactory

from .helpers import book_with_code, make_code

pytestmark = pytest.mark.django_db


def uses(code):
    return DiscountCode.objects.get(pk=code.pk).uses


def test_a_percentage_code_takes_its_share_off_and_the_booking_records_it():
    session = SessionFactory(price=4999)
    code = make_code("SPRING10", percent=10)
    booking = book_with_code(session, code="spring10", seats=3)  # any case
    assert booking.list_amount == 14997
    # 10% of 149.97 is 14.997: rounded half up to 15.00
    assert booking.total_amount == 14997 - 1500
    line = booking.discounts.get()
    assert (line.kind, line.code_id, line.amount) == ("code", code.pk, 1500)
    assert uses(code) == 1
    created = ActivityLog.objects.get(action="booking.created", target_id=str(booking.pk))
    assert (created.data["list_price"], created.data["discount"], created.data["code"],
            created.data["total"]) == (14997, 1500, "SPRING10", 13497)


def test_group_price_then_code_on_what_remains():
    course = CourseFactory(price=10000)
    session = SessionFactory(course=course, price=10000)
    GroupDiscount.objects.create(min_seats=3, percent=10)               # every course
    GroupDiscount.objects.create(min_seats=5, percent=15, course=course)
    GroupDiscount.objects.create(min_seats=2, percent=50, active=False)
    make_code("TAKE25", kind="fixed", amount=2500, percent=None)
    quote = price_quote(session=session, seats=5, code_text="take25")
    assert quote.list_amount == 50000
    assert [(d.kind, d.amount) for d in quote.discounts] == [("group", 7500), ("code", 2500)]
    assert quote.total == 40000
    assert price_quote(session=session, seats=3).total == 27000
    assert price_quote(session=session, seats=2).total == 20000  # inactive rule ignored


def test_a_fixed_code_never_takes_the_total_below_zero_and_a_free_booking_is_confirmed():
    session = SessionFactory(price=1000)
    make_code("FREEBIE", kind="fixed", amount=5000, percent=None)
    booking = book_with_code(session, code="FREEBIE")
    assert booking.total_amount == 0
    assert booking.status == Booking.Status.PAID


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "is not a discount code we know"),
    ({"active": False}, "is no longer valid"),
    ({"valid_until_days": -1}, "expired on"),
    ({"valid_from_days": 2}, "can be used from"),
    ({"max_uses": 1, "uses": 1}, "has been used up"),
    ({"other_course": True}, "not valid for this course"),
    ({"other_session": True}, "not valid for this date"),
    ({"kind": "fixed", "amount": 500, "percent": None, "currency": "EUR"}, "prices in EUR"),
])
def test_a_code_that_cannot_be_used_refuses_the_booking_and_writes_nothing(fields, message):
    session = SessionFactory(price=5000)
    now = timezone.now()
    if fields:
        if days := fields.pop("valid_until_days", None):
            fields["valid_until"] = now + timedelta(days=days)
        if days := fields.pop("valid_from_days", None):
            fields["valid_from"] = now + timedelta(days=days)
        if fields.pop("other_course", False):
            fields["course"] = CourseFactory()
        if fields.pop("other_session", False):
            fields["session"] = SessionFactory(course=session.course)
        make_code("CODE5", **fields)
    with pytest.raises(DiscountCodeError) as refused:
        book_with_code(session, code="code5")
    assert message in refused.value.message
    assert refused.value.status == 400
    assert not Booking.objects.exists()
    assert CourseSession.objects.get(pk=session.pk).seats_taken == 0


def test_an_expired_hold_gives_the_use_back_and_a_late_payment_takes_it_again():
    session = SessionFactory(price=5000)
    code = make_code("ONCE", max_uses=1)
    booking = book_with_code(session, code="ONCE")
    assert uses(code) == 1
    with pytest.raises(DiscountCodeError, match="used up"):
        book_with_code(session, code="ONCE", email="second@example.com")
    later = timezone.now() + timedelta(hours=1)
    assert release_expired_holds(now=later) == [booking.pk]
    assert uses(code) == 0
    assert BookingDiscount.objects.get(booking=booking).use_released_at is not None
    again = book_with_code(session, code="ONCE", email="second@example.com")
    assert again.total_amount == 4500 and uses(code) == 1
    # The first customer's card payment arrives after all: they paid the discounted
    # price, so the use is counted again (over the limit, and logged as such).
    booking_transition(booking_id=booking.pk, to=Booking.Status.PAID)
    assert uses(code) == 2
    retaken = ActivityLog.objects.get(action="discount_code.retaken")
    assert retaken.data["over_limit"] is True


def test_cancelled_unpaid_gives_the_use_back_cancelled_after_paying_keeps_it():
    session = SessionFactory(price=5000)
    code = make_code("TWICE", max_uses=2)
    unpaid = book_with_code(session, code="TWICE")
    paid = book_with_code(session, code="TWICE", email="paid@example.com")
    booking_transition(booking_id=paid.pk, to=Booking.Status.PAID)
    booking_transition(booking_id=unpaid.pk, to=Booking.Status.CANCELLED)
    assert uses(code) == 1
    booking_transition(booking_id=paid.pk, to=Booking.Status.CANCELLED)
    assert uses(code) == 1
    counted = BookingDiscount.objects.filter(code=code, use_released_at__isnull=True).count()
    assert counted == uses(code)


def test_hold_expire_through_payments_gives_the_use_back():
    session = SessionFactory(price=5000)
    code = make_code("HOLD", max_uses=3)
    booking = book_with_code(session, code="HOLD")
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now())
    hold_expire(booking_id=booking.pk)
    assert uses(code) == 0


@pytest.mark.parametrize(("total", "parts"), [(0, 3), (1, 3), (10000, 3), (9999, 7),
                                              (14997, 4), (5, 5), (123457, 12)])
def test_seat_shares_differ_by_at_most_one_unit_and_sum_to_the_total(total, parts):
    shares = split_evenly(total, parts)
    assert sum(shares) == total
    assert len(shares) == parts
    assert max(shares) - min(shares) <= 1


def test_each_attendees_share_of_a_discounted_booking_sums_to_what_it_charges():
    session = SessionFactory(price=3333)
    make_code("THIRD", kind="fixed", amount=1000, percent=None)
    booking = book_with_code(session, code="THIRD", seats=3)
    assert booking.total_amount == 9999 - 1000
    shares = [attendee_seat_share(booking=booking, attendee=a)
              for a in Attendee.objects.filter(booking=booking)]
    assert shares == [3000, 3000, 2999]


def test_booking_price_shows_the_lines_that_make_the_total():
    session = SessionFactory(price=10000)
    GroupDiscount.objects.create(min_seats=2, percent=10)
    make_code("EXTRA", percent=5)
    booking = book_with_code(session, code="EXTRA", seats=2)
    price = booking_price(booking)
    assert price.list_amount == 20000
    assert price.discount_lines == [("Group price: 10% off from 2 seats", 2000),
                                    ("Code EXTRA: 5% off", 900)]
    assert price.total == booking.total_amount == 17100


def test_staff_changes_to_a_code_are_logged_and_codes_are_stored_in_capitals(admin_user):
    code = discount_code_save(code=DiscountCode(code=" summer ", percent=20), actor=admin_user)
    assert code.code == "SUMMER"
    code.max_uses = 50
    discount_code_save(code=code, actor=admin_user)
    assert discount_code_deactivate(code_id=code.pk, actor=admin_user)
    assert not discount_code_deactivate(code_id=code.pk, actor=admin_user)
    actions = list(ActivityLog.objects.filter(target_id=str(code.pk),
                                              target_type="pricing.discountcode")
                   .order_by("pk").values_list("action", "data"))
    assert [a for a, _ in actions] == ["discount_code.created", "discount_code.changed",
                                       "discount_code.deactivated"]
    assert actions[1][1] == {"max_uses": [None, 50]}
    assert all(a.actor_id == admin_user.pk for a in ActivityLog.objects.filter(
        target_type="pricing.discountcode"))


def test_codes_are_unique_whatever_their_case():
    make_code("UNIQUE")
    with pytest.raises(Exception, match="discount_code_unique_ci"):
        make_code("unique")
