"""What a booking's documents are, for the customer's page and for staff."""

from itertools import chain

from .models import CreditNote, Invoice


def booking_documents(*, booking_id: int) -> list[Invoice | CreditNote]:
    """The booking's invoices and credit notes, oldest first."""
    invoices = Invoice.objects.filter(booking_id=booking_id).select_related("replaces")
    notes = CreditNote.objects.filter(invoice__booking_id=booking_id).select_related("invoice")
    return sorted(chain(invoices, notes), key=lambda d: (d.issued_at, d.number))


def booking_document(*, booking_id: int, number: str) -> Invoice | CreditNote | None:
    return (Invoice.objects.filter(booking_id=booking_id, number=number).first()
            or CreditNote.objects.filter(invoice__booking_id=booking_id, number=number).first())


def invoice_open_to_reissue(*, booking_id: int) -> Invoice | None:
    """The booking's current invoice while it can still take company details: nothing has
    replaced it, nothing of it has been credited, and it is not a booking on account (that
    one is made out to the company from the start)."""
    return (Invoice.objects.filter(booking_id=booking_id, replaced_by__isnull=True,
                                   credit_notes__isnull=True,
                                   booking__payment_due_date__isnull=True)
            .order_by("-id").first())
