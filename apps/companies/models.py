"""Employers whose contacts book their staff onto courses and may pay on account."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.money import DEFAULT_CURRENCY


class Company(models.Model):
    name = models.CharField(max_length=200)
    billing_address = models.TextField(blank=True)
    vat_number = models.CharField(max_length=30, blank=True, verbose_name="VAT number")
    purchase_order_required = models.BooleanField(
        default=False, help_text="Bookings on account must quote a purchase order number.")
    payment_terms_days = models.PositiveSmallIntegerField(
        default=30, help_text="Days from booking to the due date of a booking on account.")
    credit_limit = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Minor units. The most this company may owe on unpaid bookings on account "
                  "at once; empty for no limit.")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    approved_for_invoice = models.BooleanField(
        default=False, help_text="Staff decide: its contacts may book and pay by invoice.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"
        indexes = [models.Index(fields=["name"], name="company_name_idx")]

    def __str__(self):
        return self.name


class CompanyContact(models.Model):
    """A customer who books for a company (and sees all of its bookings)."""

    class Role(models.TextChoices):
        CONTACT = "contact", "Billing contact"
        ADMIN = "admin", "Company administrator"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="company_contacts")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CONTACT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["company", "user_id"]
        constraints = [models.UniqueConstraint(fields=["company", "user"],
                                               name="company_contact_once")]

    def __str__(self):
        return f"{self.user} for {self.company}"


class CompanyLinkRequest(models.Model):
    """"I book for my employer": a customer's request, decided by staff."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for staff"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="company_link_requests")
    company_name = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING,
                              editable=False)
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="link_requests",
                                help_text="The company the customer was linked to.")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", editable=False)
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(
            fields=["user"], condition=Q(status="pending"),
            name="company_link_one_pending_request")]

    def __str__(self):
        return f"{self.user} asks to book for {self.company_name}"
