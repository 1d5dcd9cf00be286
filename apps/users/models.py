import functools
import unicodedata

import idna
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from encrypted_fields.fields import EncryptedTextField

from apps.core.ledger import LedgerModel

from .roles import Role, role_set_at_creation


def normalize_email(email: str) -> str:
    """The one spelling of an address, used wherever addresses are stored or compared.

    Lower case; Unicode NFC (a precomposed "ü" and "u" + combining diaeresis are one
    letter); the domain in its canonical IDNA form (UTS #46, shown as Unicode: punycode
    `xn--mller-kva.example` and `MÜLLER.example` are both `müller.example`). A domain
    that is not valid IDNA keeps its lower-cased NFC form (the form validator decides
    whether it is acceptable).
    """
    email = unicodedata.normalize("NFC", (email or "").strip())
    local, at, domain = email.rpartition("@")
    if not at:
        return email.lower()
    return f"{local.lower()}@{_canonical_domain(domain)}"


@functools.lru_cache(maxsize=4096)
def _canonical_domain(domain: str) -> str:
    """A domain's canonical form (a pure function, and the costly part: IDNA), kept per
    process for the domains seen most: a booking normalises each address several times."""
    try:
        domain = idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        domain = domain.lower()
    return unicodedata.normalize("NFC", domain)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=normalize_email(email))

    def _create_user(self, email, password, actor=None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        # Staff access follows the role (is_staff passed in is overridden), audited.
        role_set_at_creation(user=user, actor=actor)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        """`createsuperuser`: an admin, the one role that may keep the superuser flag."""
        extra.update(is_superuser=True, role=Role.ADMIN)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: customer, attendee, instructor or staff. Email is the login.

    Customers need no password (they sign in with an emailed code). The totals are
    kept exact by the same transactions that change bookings, payments and refunds;
    `recompute_user_totals` proves it.
    """

    Role = Role  # defined with what each role may do, in roles.py

    email = models.EmailField("email address", max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CUSTOMER)
    marketing_consent = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    anonymised_at = models.DateTimeField(null=True, blank=True)
    total_bookings = models.PositiveIntegerField(default=0)
    total_spent = models.BigIntegerField(default=0, help_text="Minor units, net of refunds.")
    stripe_customer_id = models.CharField(max_length=255, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_email_ci_unique"),
            models.CheckConstraint(condition=Q(total_spent__gte=0), name="users_total_spent_gte_0"),
        ]
        indexes = [
            models.Index(fields=["role"], name="users_role_idx"),
            # Lookups by the stored (lower-cased) address: booking, search, webhooks.
            models.Index(fields=["email"], name="users_email_idx"),
            models.Index(fields=["last_name", "first_name"], name="users_name_idx"),
        ]

    def __str__(self):
        """"Priya Shah <priya@example.com>", or the address alone when no name is known:
        how people appear in admin lists, dropdowns and autocompletes."""
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.first_name or self.email

    def _get_session_auth_hash(self, secret=None):
        """Sessions are bound to the password (Django's default) and to the address: a
        changed email ends every session that was signed in with the old one (the browser
        that made the change keeps its own, see update_session_auth_hash)."""
        return salted_hmac("apps.users.User.get_session_auth_hash",
                           f"{self.password}\x00{self.email}", secret=secret,
                           algorithm="sha256").hexdigest()


class UserNote(models.Model):
    """A staff note about a customer. The text is encrypted at rest."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="notes_written")
    text = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Note on {self.user} ({self.created_at:%d %b %Y})"


class ActivityLog(LedgerModel):
    """Who did what, when: every state change and role change, with a namespaced action
    (`booking.paid`, `user.role_changed`). Read-only in admin."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions_taken"
    )
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activity",
        help_text="The customer this entry is about, for their activity history.",
    )
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="activity_target_idx"),
            models.Index(fields=["action"], name="activity_action_idx"),
        ]

    def __str__(self):
        return f"{self.action} {self.target_type}:{self.target_id}"


class MarketingConsentChange(models.Model):
    """Marketing consent over time: when it was given or withdrawn, and how (a person may
    ask, and we must be able to show it). Rows are only ever added."""

    class Source(models.TextChoices):
        PORTAL = "portal", "Customer portal profile"
        ADMIN = "admin", "Changed by staff in admin"
        BEFORE_HISTORY = "before_history", "Recorded before consent history was kept"
        ERASURE = "erasure", "Withdrawn when the account was erased"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consent_changes")
    given = models.BooleanField(help_text="True: consent given; False: withdrawn.")
    source = models.CharField(max_length=20, choices=Source.choices)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{'given' if self.given else 'withdrawn'} {self.created_at:%Y-%m-%d}"
