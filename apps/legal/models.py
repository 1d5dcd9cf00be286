from django.db import models


class LegalDocument(models.Model):
    """One version of the terms or the privacy notice. Staff never rewrite a published
    version (bookings record which terms were accepted): a new version is a new row, and
    the latest published one is what the site shows."""

    class Kind(models.TextChoices):
        TERMS = "terms", "Terms and conditions"
        PRIVACY = "privacy", "Privacy notice"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    version = models.PositiveIntegerField(editable=False)
    body = models.TextField(help_text="Plain text; blank lines separate paragraphs.")
    published_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Shown on the site from this moment. Leave empty for a draft.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="legal_document_version"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}, version {self.version}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None
