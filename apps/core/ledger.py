"""Records that are never deleted: money (payments, refunds, disputes, Stripe events), the
activity log and the email log. Corrections are new rows.

A ledger model refuses `instance.delete()` and `queryset.delete()` with a DomainError
that says why. The one way to end such rows is the retention purge at the end of their
life (apps/operations/retention.py), which says so by calling `retention_delete()`:
explicit, greppable, and audited by its caller."""

from django.db import models

from apps.core.errors import DomainError


class LedgerRecordDeleteError(DomainError):
    code = "ledger_record"
    status = 409


def _refusal(model) -> LedgerRecordDeleteError:
    name = model._meta.verbose_name_plural
    return LedgerRecordDeleteError(
        f"{name.capitalize()} are never deleted: they are the record of what happened. "
        "Record a correction as a new entry (a refund, a note) instead.")


class LedgerQuerySet(models.QuerySet):
    def delete(self):
        raise _refusal(self.model)

    delete.queryset_only = True

    def retention_delete(self) -> tuple[int, dict[str, int]]:
        """Delete these rows at the end of their retention period: only the retention
        purge calls this."""
        return super().delete()

    retention_delete.queryset_only = True


class LedgerModel(models.Model):
    """Mixin for ledger models: `objects` refuses bulk deletion, `delete()` refuses too."""

    objects = LedgerQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, using=None, keep_parents=False):
        raise _refusal(type(self))
