"""Issue #26, items 1-5: an email address routes sign-ins and bookings to an account only
once it is proven; changing an address moves what routes by it; one spelling per address."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from apps.bookings.models import Booking
from apps.users.models import User
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db(transaction=True)  # allauth emails are sent on commit


def request_code(client: Client, email: str):
    response = client.post("/accounts/login/code/", {"email": email})
    assert response.status_code == 302, response.content.decode()[:500]
    return response


def sign_in_by_code(email: str) -> Client:
    """The real allauth flow: ask for a code, read it from the email, type it in."""
    client = Client()
    mail.outbox.clear()
    response = request_code(client, email)
    sent = [m for m in mail.outbox if email in m.to]
    assert sent, f"no email to {email}"
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", sent[-1].body, re.M)
    assert code, f"no code in the email to {email}: {sent[-1].body[:300]}"
    confirm = client.post(response["Location"], {"code": code.group(1)})
    assert confirm.status_code == 302, confirm.content.decode()[:500]
    return client


def signed_in_user(client: Client):
    from django.contrib.auth import get_user

    class _Request:
        session = client.session

    return get_user(_Request())


def customer(email: str) -> tuple[User, Client]:
    """A customer who has signed in once (so their address is verified)."""
    make_booking(SessionFactory(), email=email)
    client = sign_in_by_code(email)
    return User.objects.get(email=email), client


def ask_to_change_email(client: Client, new_email: str) -> None:
    response = client.post("/accounts/email/", {"action_add": "", "email": new_email})
    assert response.status_code in (200, 302)


def test_a_pending_change_never_routes_the_real_owners_sign_in_to_the_claimant():
    mallory, mallory_client = customer("mallory@example.com")
    ask_to_change_email(mallory_client, "newbie@example.com")
    assert EmailAddress.objects.filter(user=mallory, email="newbie@example.com",
                                       verified=False).exists()

    # The real owner of newbie@ books, then signs in by the code sent to newbie@.
    booking = make_booking(SessionFactory(), email="newbie@example.com")
    newbie_client = sign_in_by_code("newbie@example.com")

    newbie = signed_in_user(newbie_client)
    assert newbie.pk != mallory.pk
    assert newbie.email == "newbie@example.com"
    assert Booking.objects.get(pk=booking.pk).purchaser_id == newbie.pk
    assert not EmailAddress.objects.filter(user=mallory, email="newbie@example.com",
                                           verified=True).exists()
    mallory.refresh_from_db()
    assert mallory.email == "mallory@example.com"
    # Mallory's live session does not show newbie's booking.
    assert booking.reference not in mallory_client.get("/portal/").content.decode()


def test_a_pending_change_does_not_catch_a_new_persons_code_sign_in():
    """No account owns newbie@ yet: asking for a code must not sign in to Mallory's."""
    mallory, mallory_client = customer("mallory@example.com")
    ask_to_change_email(mallory_client, "newbie@example.com")
    client = Client()
    mail.outbox.clear()
    request_code(client, "newbie@example.com")
    bodies = "\n".join(m.body for m in mail.outbox if "newbie@example.com" in m.to)
    assert not re.search(r"^\s*[A-Z0-9]{4}-[A-Z0-9]{4}\s*$", bodies, re.M)


def test_a_guest_whose_address_another_customer_claims_still_signs_in():
    mallory, mallory_client = customer("mallory@example.com")
    ask_to_change_email(mallory_client, "guest@example.com")
    booking = make_booking(SessionFactory(), email="guest@example.com")  # guest checkout

    guest_client = sign_in_by_code("guest@example.com")

    guest = signed_in_user(guest_client)
    assert guest.pk == booking.purchaser_id != mallory.pk
    assert EmailAddress.objects.get(email="guest@example.com", verified=True).user_id == guest.pk
    assert guest_client.get("/portal/").status_code == 200


def hidden_fields(page):
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def code_sent_to(email: str) -> bool:
    return any(email in m.to and re.search(r"^\s*[A-Z0-9]{4}-[A-Z0-9]{4}\s*$", m.body, re.M)
               for m in mail.outbox)


def test_after_staff_change_an_email_in_admin_the_old_address_no_longer_signs_in(
        admin_client, django_capture_on_commit_callbacks):
    pat, pat_client = customer("pat@example.com")
    page = admin_client.get(f"/admin/users/user/{pat.pk}/change/").content.decode()
    form = {**hidden_fields(page), "email": "Pat.New@Example.com", "first_name": "",
            "last_name": "", "phone": "", "company_name": "", "role": "customer",
            "is_active": "on"}
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/users/user/{pat.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]

    pat.refresh_from_db()
    assert pat.email == "pat.new@example.com"
    assert list(EmailAddress.objects.filter(user=pat).values_list("email", "primary")) == [
        ("pat.new@example.com", True)]
    # Both addresses are told.
    told = {to for m in mail.outbox for to in m.to}
    assert {"pat@example.com", "pat.new@example.com"} <= told
    # The session that was signed in before the change has ended.
    assert pat_client.get("/portal/").status_code == 302
    # The old address gets no code; the new one signs in to the same account.
    mail.outbox.clear()
    request_code(Client(), "pat@example.com")
    assert not code_sent_to("pat@example.com")
    assert signed_in_user(sign_in_by_code("pat.new@example.com")).pk == pat.pk


def test_a_customer_changing_their_email_ends_their_other_sessions_and_both_are_told(
        django_capture_on_commit_callbacks):
    pat, here = customer("pat@example.com")
    elsewhere = sign_in_by_code("pat@example.com")
    mail.outbox.clear()
    ask_to_change_email(here, "pat.new@example.com")
    link = re.search(r"(/accounts/confirm-email/[^\s]+)", mail.outbox[-1].body).group(1)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        here.post(link)
    pat.refresh_from_db()
    assert pat.email == "pat.new@example.com"
    assert here.get("/portal/").status_code == 200  # the browser that made the change
    assert elsewhere.get("/portal/").status_code == 302  # signed out
    told = {to for m in mail.outbox for to in m.to}
    assert {"pat@example.com", "pat.new@example.com"} <= told


def test_after_a_verified_change_every_seat_email_goes_to_the_new_address(
        django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from apps.certificates.attendance import attendance_record
    from apps.core.models import Communication
    from apps.operations.reminders import session_reminders
    from apps.payments.services import payment_record_manual
    from apps.refunds.cancellation import session_cancel

    def paid(session, email):
        booking = make_booking(session, email=email,
                               now=min(timezone.now(), session.starts_at - timedelta(days=7)))
        payment_record_manual(booking=booking, actor=None)
        return booking

    now = timezone.now()
    soon = paid(SessionFactory(starts_at=now + timedelta(hours=24)), "pat@example.com")
    later = paid(SessionFactory(starts_at=now + timedelta(days=20)), "pat@example.com")
    past = paid(SessionFactory(starts_at=now - timedelta(days=1)), "pat@example.com")
    client = sign_in_by_code("pat@example.com")
    ask_to_change_email(client, "pat.new@example.com")
    link = re.search(r"(/accounts/confirm-email/[^\s]+)", mail.outbox[-1].body).group(1)
    client.post(link)

    with django_capture_on_commit_callbacks(execute=True):
        session_reminders(now=now)
        session_cancel(session_id=later.session_id, reason="Trainer ill")
        attendance_record(attendee_ids=[past.attendees.get().pk], attendance="attended")
    sent = dict(Communication.objects.filter(
        kind__in=["session_reminder", "session_cancelled", "certificate_issued"],
    ).values_list("kind", "recipient"))
    assert sent == {"session_reminder": "pat.new@example.com",
                    "session_cancelled": "pat.new@example.com",
                    "certificate_issued": "pat.new@example.com"}
    assert soon.pk


COMPOSED = "anna@m\u00fcller.example"  # ü as one code point
DECOMPOSED = "anna@mu\u0308ller.example"  # u + combining diaeresis
PUNYCODE = "Anna@XN--MLLER-KVA.example"


def test_one_address_in_any_spelling_is_one_account():
    from apps.users.models import normalize_email

    assert normalize_email(COMPOSED) == normalize_email(DECOMPOSED) == \
        normalize_email(PUNYCODE) == COMPOSED
    first = make_booking(SessionFactory(), email=COMPOSED)
    second = make_booking(SessionFactory(), email=DECOMPOSED)
    third = make_booking(SessionFactory(), email=PUNYCODE)
    assert first.purchaser_id == second.purchaser_id == third.purchaser_id
    assert User.objects.filter(email__contains="anna@").count() == 1
    # Signing in with another spelling reaches the same account.
    client = Client()
    mail.outbox.clear()
    response = request_code(client, DECOMPOSED)
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.M)
    assert code, mail.outbox[-1].body
    client.post(response["Location"], {"code": code.group(1)})
    assert signed_in_user(client).pk == first.purchaser_id



def test_the_password_sign_in_page_sends_no_code_around_the_rules():
    """/accounts/login/ without a password used to mail a code through allauth's own
    lookup, where a pending change routes the address to the claimant."""
    mallory, mallory_client = customer("mallory@example.com")
    ask_to_change_email(mallory_client, "newbie@example.com")
    mail.outbox.clear()
    response = Client().post("/accounts/login/", {"login": "newbie@example.com"})
    assert response.status_code == 200  # the password is required here
    assert not code_sent_to("newbie@example.com")


def test_an_address_with_its_own_account_cannot_be_taken_by_verifying_it_elsewhere():
    """A guest account exists for guest@ (its bookings route there); another customer who
    asks to change to guest@ is told to sign in with it instead: verifying it on their
    account would have failed on the unique address (a 500) or split the bookings."""
    make_booking(SessionFactory(), email="guest@example.com")
    _, pat_client = customer("pat@example.com")
    response = pat_client.post("/accounts/email/", {"action_add": "", "email": "Guest@Example.com"})
    assert response.status_code == 200
    assert "already has its own account" in response.content.decode()
    assert not EmailAddress.objects.filter(email="guest@example.com").exclude(
        user__email="guest@example.com").exists()


def test_a_pending_change_does_not_route_a_password_reset_to_the_claimant():
    mallory, mallory_client = customer("mallory@example.com")
    ask_to_change_email(mallory_client, "newbie@example.com")
    mail.outbox.clear()
    Client().post("/accounts/password/reset/", {"email": "newbie@example.com"})
    bodies = "\n".join(m.body for m in mail.outbox if "newbie@example.com" in m.to)
    assert "/accounts/password/reset/key/" not in bodies
