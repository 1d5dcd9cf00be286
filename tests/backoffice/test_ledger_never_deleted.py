"""Issue #19 item 4: money records, the activity log and the email log are never deleted,
by any role, in admin or below it; bookings and people with money against them are kept."""

import pytest
from django.urls import reverse

from apps.core.ledger import LedgerRecordDeleteError
from apps.core.models import Communication
from apps.payments.models import Dispute, DisputeEvent, Payment, PaymentEvent, StripeEvent
from apps.refunds.models import Refund
from apps.users.audit import log_action
from apps.users.models import ActivityLog, User
from apps.users.roles import Role
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db

LEDGER_MODELS = [Payment, PaymentEvent, StripeEvent, Dispute, DisputeEvent, Refund,
                 ActivityLog, Communication]
# Dispute events have no admin of their own: they are read on their dispute's page.
ADMIN_MODELS = [model for model in LEDGER_MODELS if model is not DisputeEvent]


@pytest.fixture
def ledger():
    """One row of every ledger model, on a booking paid by invoice."""
    booking = make_booking(SessionFactory(price=5000), email="payer@example.com")
    payment = Payment.objects.create(booking=booking, user=booking.purchaser, amount=5000,
                                     currency="GBP", method=Payment.Method.INVOICE,
                                     status=Payment.Status.SUCCEEDED)
    stripe_event = StripeEvent.objects.create(stripe_id="evt_keep", type="charge.dispute.created",
                                              payload={})
    dispute = Dispute.objects.create(payment=payment, stripe_dispute_id="dp_keep", amount=5000,
                                     status=Dispute.Status.NEEDS_RESPONSE)
    rows = {
        Payment: payment,
        PaymentEvent: PaymentEvent.objects.create(payment=payment, kind="note"),
        StripeEvent: stripe_event,
        Dispute: dispute,
        DisputeEvent: DisputeEvent.objects.create(dispute=dispute, type="created",
                                                  status=Dispute.Status.NEEDS_RESPONSE),
        Refund: Refund.objects.create(payment=payment, amount=1000,
                                      initiator=Refund.Initiator.STAFF),
        ActivityLog: log_action("payment.recorded", target=payment),
        Communication: Communication.objects.create(
            kind=Communication.Kind.BOOKING_CONFIRMATION, recipient="payer@example.com",
            booking=booking, subject="Booked", body="Booked"),
    }
    return booking, rows


@pytest.fixture(params=[Role.ADMIN, Role.SUPPORT, Role.INSTRUCTOR])
def staff_client(request, client):
    staff = User.objects.create_user(f"{request.param}@example.com", "pw-123456789",
                                     role=request.param)
    if request.param == Role.ADMIN:
        staff.is_superuser = True
        staff.save(update_fields=["is_superuser"])
    client.force_login(staff)
    return client


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_no_role_can_delete_a_ledger_record_in_admin(staff_client, ledger, model):
    _, rows = ledger
    obj = rows[model]
    opts = model._meta
    delete_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
    assert staff_client.get(delete_url).status_code in (302, 403)
    assert staff_client.post(delete_url, {"post": "yes"}).status_code in (302, 403)

    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    page = staff_client.get(changelist)
    if page.status_code == 200:
        assert 'value="delete_selected"' not in page.content.decode()
    staff_client.post(changelist, {"action": "delete_selected", "_selected_action": [obj.pk],
                                   "post": "yes"})
    assert model.objects.filter(pk=obj.pk).exists()


def test_no_ledger_model_admin_allows_deletion_even_for_a_superuser(admin_client, ledger):
    _, rows = ledger
    for model in ADMIN_MODELS:
        opts = model._meta
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change",
                         args=[rows[model].pk])
        html = admin_client.get(change).content.decode()
        assert "deletelink" not in html, model


@pytest.mark.parametrize("model", LEDGER_MODELS, ids=lambda m: m.__name__)
def test_the_model_refuses_deletion_of_one_row_or_many(ledger, model):
    _, rows = ledger
    obj = rows[model]
    with pytest.raises(LedgerRecordDeleteError, match="never deleted"):
        obj.delete()
    with pytest.raises(LedgerRecordDeleteError, match="never deleted"):
        model.objects.filter(pk=obj.pk).delete()
    with pytest.raises(LedgerRecordDeleteError):
        model.objects.all().delete()
    assert model.objects.filter(pk=obj.pk).exists()


def test_a_booking_with_money_is_kept_and_staff_are_pointed_at_erasure(admin_client, ledger):
    booking, _ = ledger
    response = admin_client.get(reverse("admin:bookings_booking_delete", args=[booking.pk]),
                                follow=True)
    assert "money has moved on it" in response.content.decode()
    assert "erase their account" in response.content.decode()
    response = admin_client.post(reverse("admin:bookings_booking_changelist"), {
        "action": "delete_selected", "_selected_action": [booking.pk], "post": "yes"},
        follow=True)
    assert "money has moved on it" in response.content.decode()
    booking.refresh_from_db()

    purchaser = booking.purchaser
    response = admin_client.get(reverse("admin:users_user_delete", args=[purchaser.pk]),
                                follow=True)
    assert "erase their account" in response.content.decode()
    assert User.objects.filter(pk=purchaser.pk).exists()


def test_a_user_without_bookings_can_still_be_deleted_in_admin(admin_client):
    user = User.objects.create_user("nobody@example.com")
    response = admin_client.post(reverse("admin:users_user_delete", args=[user.pk]),
                                 {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
