"""Invoices and credit notes: numbered, issued once, never changed.

A document is created already issued: its number, tax point, seller and buyer details and
amounts are frozen in the row. Corrections are new documents (a credit note against the
invoice, and a new invoice when the buyer's details change), never edits: `save()` on an
issued document, `delete()` and queryset `update()`/`delete()` all refuse with a
DomainError, like the money ledger (apps/core/ledger.py). The retention purge alone may end
them (`retention_delete()`).

Numbers come from an InvoiceSeries row locked in the issuing transaction: sequential and
gapless per series (a rolled-back issue gives its number back with the rollback)."""

from django.db import models
from django.db.models import Q

from apps.core.errors import DomainError
from apps.core.ledger import LedgerModel, LedgerQuerySet
from apps.core.money import DEFAULT_CURRENCY


class IssuedDocumentChangeError(DomainError):
    code = "issued_document"
    status = 409


def _refusal(model) -> IssuedDocumentChangeError:
    name = model._meta.verbose_name
    return IssuedDocumentChangeError(
        f"An issued {name} never changes. Issue a credit note (and a new invoice) to "
        "correct it.")


class IssuedQuerySet(LedgerQuerySet):
    def update(self, **kwargs):
        raise _refusal(self.model)

    update.queryset_only = True


class IssuedModel(LedgerModel):
    """Created once (issued), then read-only: updates and deletion refuse."""

    objects = IssuedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise _refusal(type(self))
        super().save(*args, **kwargs)


class InvoiceSeries(models.Model):
    """A numbering sequence: `next_number` is taken under a row lock by the issuing
    transaction, so numbers are gapless and never repeat."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoices"
        CREDIT_NOTE = "credit_note", "Credit notes"

    kind = models.CharField(max_length=12, choices=Kind.choices, unique=True)
    prefix = models.CharField(max_length=12, unique=True,
                              help_text='Put before the number: "INV-" gives INV-000001.')
    next_number = models.PositiveIntegerField(default=1, editable=False)
    digits = models.PositiveSmallIntegerField(default=6)

    class Meta:
        verbose_name_plural = "invoice series"

    def __str__(self):
        return f"{self.prefix}… ({self.get_kind_display().lower()})"

    def format(self, sequence: int) -> str:
        return f"{self.prefix}{sequence:0{self.digits}d}"


class IssuedDocument(IssuedModel):
    """What an invoice and a credit note both carry, frozen when issued."""

    number = models.CharField(max_length=30, unique=True)
    sequence = models.PositiveIntegerField()
    issued_at = models.DateTimeField(help_text="The tax point.")
    seller_name = models.CharField(max_length=200)
    seller_address = models.TextField()
    seller_vat_number = models.CharField(max_length=30, blank=True)
    buyer_name = models.CharField(max_length=200)
    buyer_email = models.EmailField(blank=True)
    buyer_company = models.CharField(max_length=200, blank=True)
    buyer_address = models.TextField(blank=True)
    buyer_vat_number = models.CharField(max_length=30, blank=True)
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    net_total = models.IntegerField(help_text="Minor units.")
    vat_total = models.IntegerField(help_text="Minor units.")
    gross_total = models.IntegerField(help_text="Minor units.")

    class Meta:
        abstract = True

    def __str__(self):
        return self.number


class Invoice(IssuedDocument):
    is_credit_note = False

    series = models.ForeignKey(InvoiceSeries, on_delete=models.PROTECT, related_name="invoices")
    booking = models.ForeignKey("bookings.Booking", on_delete=models.PROTECT,
                                related_name="invoices")
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by",
        help_text="The invoice this one replaces (credited in full), e.g. to add the "
                  "buyer's company details.")
    due_on = models.DateField()
    purchase_order = models.CharField(max_length=100, blank=True,
                                      help_text="The buyer's PO number, when they gave one.")

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["series", "sequence"],
                                    name="invoice_series_sequence_unique"),
            # One invoice per booking; later ones only replace it.
            models.UniqueConstraint(fields=["booking"], condition=Q(replaces__isnull=True),
                                    name="invoice_one_original_per_booking"),
        ]


class CreditNote(IssuedDocument):
    is_credit_note = True

    series = models.ForeignKey(InvoiceSeries, on_delete=models.PROTECT,
                               related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    reason = models.CharField(max_length=300)
    source_key = models.CharField(
        max_length=60, unique=True,
        help_text='What caused it, once: "refund:12", "reissue:34".')

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["series", "sequence"],
                                    name="credit_note_series_sequence_unique"),
        ]


class DocumentLine(IssuedModel):
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=300)
    quantity = models.IntegerField()
    unit_gross = models.IntegerField(help_text="Per unit, VAT included, minor units.")
    unit_net = models.IntegerField(help_text="Per unit net of VAT, rounded (for reading).")
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent.")
    net = models.IntegerField()
    vat = models.IntegerField()
    gross = models.IntegerField()

    class Meta:
        abstract = True
        ordering = ["position"]


class InvoiceLine(DocumentLine):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")

    class Meta(DocumentLine.Meta):
        pass


class CreditNoteLine(DocumentLine):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")

    class Meta(DocumentLine.Meta):
        pass
