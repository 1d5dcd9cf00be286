import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def test_every_domain_model_is_in_admin():
    labels = {model._meta.label for model in REGISTERED}
    assert {
        "users.User", "users.ActivityLog", "course_sessions.Course", "course_sessions.Location",
        "course_sessions.CourseSession", "bookings.Booking", "bookings.Attendee",
        "payments.Payment", "payments.PaymentEvent", "payments.StripeEvent", "refunds.Refund",
        "certificates.Certificate", "core.Communication",
    } <= labels


def test_changelists_search_and_change_pages_work_with_demo_data(admin_client):
    call_command("seed_demo", verbosity=0)
    for model in REGISTERED:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(url)
        assert response.status_code == 200, url
        # list_select_related keeps each list to a handful of queries, whatever the rows
        assert len(queries) <= 12, (url, [q["sql"] for q in queries])
        if admin.site._registry[model].search_fields:
            assert admin_client.get(url, {"q": "example"}).status_code == 200, url
        obj = model.objects.first()
        if obj is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            assert admin_client.get(change).status_code == 200, change


def test_booking_status_is_not_a_free_text_field_in_admin(admin_client):
    call_command("seed_demo", verbosity=0)
    from apps.bookings.models import Booking

    booking = Booking.objects.first()
    html = admin_client.get(
        reverse("admin:bookings_booking_change", args=[booking.pk])).content.decode()
    assert 'name="status"' not in html


@pytest.mark.parametrize("url", ["/admin/bookings/booking/", "/admin/payments/payment/",
                                 "/admin/bookings/attendee/"])
def test_changelists_query_count_is_the_same_for_10_or_500_rows(admin_client, url):
    from apps.bookings.models import Attendee, Booking
    from apps.payments.models import Payment
    from tests.factories import SessionFactory, UserFactory

    session = SessionFactory(capacity=1000)
    buyers = UserFactory.create_batch(5)

    def add(count):
        bookings = Booking.objects.bulk_create(
            Booking(purchaser=buyers[i % 5], session=session, seats=1, unit_price=100,
                    total_amount=100, status="paid") for i in range(count))
        Payment.objects.bulk_create(
            Payment(booking=b, user_id=b.purchaser_id, amount=100, status="succeeded")
            for b in bookings)
        Attendee.objects.bulk_create(
            Attendee(booking=b, user_id=b.purchaser_id, name="A", email="a@example.com")
            for b in bookings)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        return len(queries)

    add(10)
    few = count_queries()
    add(490)
    assert count_queries() == few


def test_view_on_site_redirects_only_staff_who_may_see_the_object(client):
    """Regression: Django's /admin/r/<type>/<id>/ redirected any staff member to an
    object's page, so an instructor could learn the reference of any booking by id."""
    from django.contrib.contenttypes.models import ContentType

    from apps.users.services import user_change_role, user_get_or_create
    from tests.factories import SessionFactory, make_booking

    trainer = user_change_role(user=user_get_or_create(email="t@example.com"),
                               role="instructor", actor=None)
    support = user_change_role(user=user_get_or_create(email="s@example.com"),
                               role="support", actor=None)
    own = SessionFactory(trainer=trainer)
    booking = make_booking(SessionFactory(), email="buyer@example.com")
    booking_url = f"/admin/r/{ContentType.objects.get_for_model(booking).pk}/{booking.pk}/"
    session_type = ContentType.objects.get_for_model(own).pk

    client.force_login(trainer)
    answer = client.get(booking_url)
    assert answer.status_code == 404 and booking.reference not in answer.content.decode()
    assert client.get(f"/admin/r/{session_type}/{own.pk}/")["Location"].endswith(
        f"/sessions/{own.pk}/")
    client.force_login(support)
    assert client.get(booking_url)["Location"].endswith(f"/bookings/{booking.reference}/")
