import pytest
from django.db import IntegrityError, transaction

from apps.bookings.models import Booking
from apps.core.money import format_money, to_minor_units
from apps.payments.models import Payment
from apps.refunds.models import Refund
from apps.sessions.models import CourseSession
from apps.users.models import User
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def refused(queryset, **changes):
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**changes)


def test_money_and_seats_can_never_go_negative_in_the_database():
    booking = make_booking(SessionFactory(capacity=3))
    payment = Payment.objects.create(booking=booking, user=booking.purchaser, amount=100)
    refund = Refund.objects.create(payment=payment, amount=50, initiator="staff")
    refused(Booking.objects.filter(pk=booking.pk), total_amount=-1)
    refused(Payment.objects.filter(pk=payment.pk), amount=0)
    refused(Refund.objects.filter(pk=refund.pk), amount=-5)
    refused(User.objects.filter(pk=booking.purchaser_id), total_spent=-1)
    refused(CourseSession.objects.filter(pk=booking.session_id), price=-1)
    refused(CourseSession.objects.filter(pk=booking.session_id), capacity=-1)


def test_seats_taken_can_never_exceed_capacity_in_the_database():
    session = SessionFactory(capacity=3)
    refused(CourseSession.objects.filter(pk=session.pk), seats_taken=4)


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (1250, "GBP", "£12.50"), (0, "GBP", "£0.00"), (123456789, "EUR", "€1,234,567.89"),
    (-500, "USD", "-$5.00"), (1500, "JPY", "1,500 JPY"),
])
def test_format_money(amount, currency, text):
    assert format_money(amount, currency) == text


def test_to_minor_units_is_exact_and_refuses_fractions_of_a_penny():
    assert to_minor_units("12.50", "GBP") == 1250
    assert to_minor_units("0.1", "GBP") == 10
    with pytest.raises(ValueError, match="decimal places"):
        to_minor_units("1.005", "GBP")
