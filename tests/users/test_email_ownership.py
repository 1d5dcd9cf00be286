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

pytestmark = pytest.mark.django_db


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
