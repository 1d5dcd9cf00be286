from apps.bookings.services import AttendeeInput, BookingRequest
from apps.companies.models import Company, CompanyContact
from tests.factories import UserFactory


def make_company(*, name="Acme Ltd", approved=True, po=False, terms=30, limit=None, contacts=()):
    company = Company.objects.create(
        name=name, billing_address="1 Acme Way\nLondon", vat_number="GB123456789",
        purchase_order_required=po, payment_terms_days=terms, credit_limit=limit,
        approved_for_invoice=approved)
    for email in contacts:
        user = UserFactory(email=email)
        CompanyContact.objects.create(company=company, user=user)
    return company


def on_account_request(session, *, purchaser="boss@acme.example", attendees=2, tag=""):
    return BookingRequest(
        session_id=session.pk, purchaser_email=purchaser, purchaser_first_name="Office",
        purchaser_last_name="Manager",
        attendees=[AttendeeInput(name=f"Colleague {tag}{n}", email=f"c{n}{tag}@acme.example")
                   for n in range(1, attendees + 1)])
