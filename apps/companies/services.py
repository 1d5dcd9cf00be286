"""Company writes: linking customers to companies (by staff, or a customer's request that
staff decide). Booking on account is in apps.payments.on_account (it changes bookings and
payments, which sit above this app)."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.emails import communication_queue
from apps.core.errors import ConflictError, DomainError
from apps.core.models import Communication
from apps.users.audit import log_action
from apps.users.models import User

from .models import Company, CompanyContact, CompanyLinkRequest


def company_contact_link(*, company: Company, user: User, actor: User | None,
                         role: str = CompanyContact.Role.CONTACT) -> CompanyContact:
    """Make `user` a contact of `company` (or change their role). Idempotent."""
    role = CompanyContact.Role(role)
    with transaction.atomic():
        contact, created = CompanyContact.objects.get_or_create(
            company=company, user=user, defaults={"role": role})
        if not created and contact.role != role:
            contact.role = role
            contact.save(update_fields=["role"])
        elif not created:
            return contact
        log_action("company.contact_linked", actor=actor, target=company, user=user,
                   data={"role": role, "new": created})
    return contact


def company_contact_unlink(*, company: Company, user: User, actor: User | None) -> bool:
    with transaction.atomic():
        deleted, _ = CompanyContact.objects.filter(company=company, user=user).delete()
        if deleted:
            log_action("company.contact_unlinked", actor=actor, target=company, user=user)
    return bool(deleted)


def company_link_request_create(*, user: User, company_name: str,
                                message: str = "") -> CompanyLinkRequest:
    """A customer asks to book for their employer; staff approve or decline in admin."""
    company_name = " ".join(company_name.split())
    if not company_name:
        raise DomainError("Tell us the name of the company you book for.")
    try:
        with transaction.atomic():
            link_request = CompanyLinkRequest.objects.create(
                user=user, company_name=company_name[:200], message=message.strip())
            log_action("company.link_requested", actor=user, target=link_request, user=user,
                       data={"company_name": link_request.company_name})
    except IntegrityError:
        raise ConflictError("You already have a request waiting for our team: we will email "
                            "you when it is decided.", code="request_pending") from None
    return link_request


def _lock_pending(request_id: int) -> CompanyLinkRequest:
    link_request = (CompanyLinkRequest.objects.select_for_update(of=("self",))
                    .select_related("user").get(pk=request_id))
    if link_request.status != CompanyLinkRequest.Status.PENDING:
        raise ConflictError(f"This request was {link_request.get_status_display().lower()} "
                            "already.", code="already_decided")
    return link_request


def _email_decision(link_request: CompanyLinkRequest, *, company_name: str) -> None:
    approved = link_request.status == CompanyLinkRequest.Status.APPROVED
    communication_queue(
        kind=Communication.Kind.COMPANY_LINK_DECISION, recipient=link_request.user.email,
        template="emails/company_link_decision.txt",
        context={"approved": approved, "company_name": company_name,
                 "recipient_name": link_request.user.first_name},
        user=link_request.user, dedupe_key=f"company-link-{link_request.pk}")


def company_link_request_approve(*, request_id: int, company: Company, actor: User,
                                 now: datetime | None = None) -> CompanyLinkRequest:
    """Link the customer to `company` (an existing one staff chose or created) and email
    them the decision."""
    now = now or timezone.now()
    with transaction.atomic():
        link_request = _lock_pending(request_id)
        company_contact_link(company=company, user=link_request.user, actor=actor)
        link_request.status = CompanyLinkRequest.Status.APPROVED
        link_request.company = company
        link_request.decided_by = actor
        link_request.decided_at = now
        link_request.save(update_fields=["status", "company", "decided_by", "decided_at"])
        log_action("company.link_approved", actor=actor, target=link_request,
                   user=link_request.user, data={"company": company.pk})
        _email_decision(link_request, company_name=company.name)
    return link_request


def company_link_request_decline(*, request_id: int, actor: User,
                                 now: datetime | None = None) -> CompanyLinkRequest:
    now = now or timezone.now()
    with transaction.atomic():
        link_request = _lock_pending(request_id)
        link_request.status = CompanyLinkRequest.Status.DECLINED
        link_request.decided_by = actor
        link_request.decided_at = now
        link_request.save(update_fields=["status", "decided_by", "decided_at"])
        log_action("company.link_declined", actor=actor, target=link_request,
                   user=link_request.user)
        _email_decision(link_request, company_name=link_request.company_name)
    return link_request
