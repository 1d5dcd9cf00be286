"""Issue 17 item 1: the policy with dates before paying, terms and privacy pages staff
edit in versions, and a required acceptance stored on the booking."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from apps.bookings.models import Booking
from apps.legal.models import LegalDocument
from apps.legal.services import legal_document_create
from apps.payments.services import payment_record_manual
from apps.users.models import User
from apps.users.services import user_change_role, user_get_or_create
from tests.factories import SessionFactory, make_booking
from tests.portal.test_views import form_data

pytestmark = pytest.mark.django_db


def local_deadline(session, days):
    local = session.starts_at.astimezone(ZoneInfo(settings.TIME_ZONE))
    return (local - timedelta(days=days)).strftime("%a %-d %b %H:%M")


@pytest.fixture
def session():
    return SessionFactory(starts_at=timezone.now() + timedelta(days=30))


def expected_policy(session):
    return (f"Full refund if you cancel until {local_deadline(session, 14)}, 50 % until "
            f"{local_deadline(session, 7)}, no refund after.")


def test_the_policy_with_dates_is_on_the_session_page_and_the_booking_form(client, session):
    for url in (f"/sessions/{session.pk}/", f"/sessions/{session.pk}/book/"):
        html = client.get(url).content.decode()
        assert expected_policy(session) in html, url
        assert 'href="/terms/"' in html


def test_the_policy_with_dates_is_on_the_payment_and_confirmation_pages(client, session):
    response = client.post(f"/sessions/{session.pk}/book/", form_data(session))
    booking = Booking.objects.get(session=session)
    payment_page = client.get(response["Location"]).content.decode()
    assert "Pay for your booking" in payment_page
    assert expected_policy(session) in payment_page

    payment_record_manual(booking=booking, actor=None)
    confirmation = client.get(response["Location"]).content.decode()
    assert "You're booked!" in confirmation
    assert expected_policy(session) in confirmation


def test_booking_without_accepting_the_terms_is_a_clear_form_error(client, session):
    data = form_data(session)
    del data["accept_terms"]
    response = client.post(f"/sessions/{session.pk}/book/", data)
    assert response.status_code == 200
    assert ("Please tick the box to accept the terms and the cancellation policy"
            in response.content.decode())
    assert not Booking.objects.exists()


def test_the_accepted_terms_version_and_time_are_stored_on_the_booking(client, session):
    published = legal_document_create(kind="terms", body="The newest published terms.",
                                      published_at=timezone.now())
    legal_document_create(kind="terms", body="A draft.", published_at=None)
    before = timezone.now()
    client.post(f"/sessions/{session.pk}/book/", form_data(session))
    booking = Booking.objects.get(session=session)
    assert booking.terms_document == published
    assert before <= booking.terms_accepted_at <= timezone.now()


def test_bookings_staff_make_for_a_customer_record_no_acceptance(session):
    booking = make_booking(session)
    assert booking.terms_document is None and booking.terms_accepted_at is None


def test_terms_and_privacy_pages_show_the_latest_published_version_linked_in_the_footer(
        client):
    published = legal_document_create(kind="terms", body="Published second version.",
                                      published_at=timezone.now() - timedelta(minutes=1))
    legal_document_create(kind="terms", body="Unpublished draft.", published_at=None)
    legal_document_create(kind="terms", body="Scheduled for next week.",
                          published_at=timezone.now() + timedelta(days=7))
    home = client.get("/").content.decode()
    assert 'href="/terms/"' in home and 'href="/privacy/"' in home

    terms = client.get("/terms/").content.decode()
    assert "Published second version." in terms and f"Version {published.version}" in terms
    assert "Unpublished draft." not in terms and "Scheduled" not in terms
    privacy = client.get("/privacy/")
    assert privacy.status_code == 200 and "Privacy notice" in privacy.content.decode()


def test_staff_publish_a_new_version_and_cannot_rewrite_a_published_one(client):
    admin_user = user_change_role(user=user_get_or_create(email="boss@example.com"),
                                  role=User.Role.ADMIN, actor=None)
    client.force_login(admin_user)
    current = legal_document_create(kind="terms", body="Current terms.\nSecond line.",
                                    published_at=timezone.now())

    add = client.get("/admin/legal/legaldocument/add/?kind=terms").content.decode()
    assert current.body.splitlines()[0] in add  # a new version starts from the latest text
    response = client.post("/admin/legal/legaldocument/add/", {
        "kind": "terms", "body": "Third edition.",
        "published_at_0": timezone.localdate().isoformat(), "published_at_1": "00:00:00"})
    assert response.status_code == 302, response.content.decode()[:2000]
    newest = LegalDocument.objects.filter(kind="terms").order_by("-version").first()
    assert (newest.version, newest.body) == (current.version + 1, "Third edition.")
    assert "Third edition." in client.get("/terms/").content.decode()

    client.post(f"/admin/legal/legaldocument/{current.pk}/change/",
                {"body": "Rewritten history."})
    current.refresh_from_db()
    assert current.body != "Rewritten history."
    assert client.post(f"/admin/legal/legaldocument/{current.pk}/delete/",
                       {"post": "yes"}).status_code == 403
