"""What a customer may see of companies: only those they are a contact of."""

from .models import Company, CompanyContact


def companies_of_contact(*, user):
    if not getattr(user, "is_authenticated", False):
        return Company.objects.none()
    return Company.objects.filter(contacts__user=user).distinct()


def company_for_contact(*, user, company_id: int) -> Company | None:
    """The company if `user` is one of its contacts; None (a 404) otherwise."""
    return companies_of_contact(user=user).filter(pk=company_id).first()


def invoice_companies_of(*, user):
    """Companies this customer may book on account for (approved by staff)."""
    return companies_of_contact(user=user).filter(approved_for_invoice=True)


def is_company_contact(*, user, company_id: int) -> bool:
    return CompanyContact.objects.filter(user=user, company_id=company_id).exists()
