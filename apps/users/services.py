from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.audit import log_action
from apps.core.errors import DomainError

from .models import User, normalize_email
from .roles import sync_role_groups
from .selectors import TotalsDrift, user_totals_drift


def user_get_or_create(
    *, email: str, first_name: str = "", last_name: str = "", company_name: str = "",
    phone: str = "",
) -> User:
    """Find a user by email (case-insensitive) or create a passwordless customer.

    Safe under concurrency: the case-insensitive unique index decides, and a loser of
    the race re-reads the winner's row. Blank profile fields are filled, never overwritten.
    """
    email = normalize_email(email)
    if not email:
        raise DomainError("An email address is required.")
    user = User.objects.filter(email=email).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    company_name=company_name,
                    phone=phone,
                )
                # Unverified until they prove it: signing in by emailed code verifies it.
                EmailAddress.objects.create(user=user, email=email, primary=True,
                                            verified=False)
                log_action("user.created", actor=None, target=user, user=user)
                return user
        except IntegrityError:
            user = User.objects.filter(email=email).first()
            if user is None:
                raise
    updates = {}
    for field, value in (
        ("first_name", first_name),
        ("last_name", last_name),
        ("company_name", company_name),
        ("phone", phone),
    ):
        if value and not getattr(user, field):
            updates[field] = value
    if updates:
        User.objects.filter(pk=user.pk).update(**updates)
        for field, value in updates.items():
            setattr(user, field, value)
    return user


def user_change_role(*, user: User, role: str, actor: User | None) -> User:
    """Change a user's role; staff access follows the role; every change is audited."""
    if role not in User.Role.values:
        raise DomainError(f"Unknown role {role!r}.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        old_role = locked.role
        if old_role == role:
            return locked
        locked.role = role
        locked.is_staff = role != User.Role.CUSTOMER
        locked.save(update_fields=["role", "is_staff"])
        sync_role_groups(locked)
        log_action(
            "user.role_changed",
            actor=actor,
            target=locked,
            user=locked,
            data={"old": old_role, "new": role},
        )
    return locked


def user_export_data(*, user: User) -> dict:
    """Everything we hold about one person, as JSON-ready data (GDPR access request)."""
    from apps.bookings.selectors import bookings_naming_person
    from apps.certificates.models import Certificate
    from apps.core.models import Communication

    bookings = []
    for booking in bookings_naming_person(user=user):
        own = booking.purchaser_id == user.pk
        bookings.append({
            "reference": booking.reference,
            "role": "purchaser" if own else "attendee",
            "course": booking.session.course.title,
            "starts_at": booking.session.starts_at.isoformat(),
            "location": booking.session.location.name,
            "status": booking.status,
            "seats": booking.seats if own else 1,
            "total": booking.total_amount if own else None,
            "currency": booking.currency,
            "special_requirements": booking.special_requirements if own else "",
            "attendees": [
                {"name": a.name, "email": a.email} for a in booking.attendees.all()
                if own or a.user_id == user.pk
            ],
            "payments": [
                {"amount": p.amount, "currency": p.currency, "status": p.status,
                 "method": p.method, "card_brand": p.card_brand, "card_last4": p.card_last4,
                 "created_at": p.created_at.isoformat(),
                 "refunds": [{"amount": r.amount, "status": r.status,
                              "created_at": r.created_at.isoformat()}
                             for r in p.refunds.all()]}
                for p in booking.payments.all()
            ] if own else [],
        })
    return {
        "profile": {
            "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
            "phone": user.phone, "company_name": user.company_name,
            "marketing_consent": user.marketing_consent,
            "date_joined": user.date_joined.isoformat(),
            "total_bookings": user.total_bookings, "total_spent": user.total_spent,
        },
        "bookings": bookings,
        "certificates": [
            {"number": c.number, "course": c.course.title, "issued_on": c.issued_on.isoformat(),
             "expires_on": c.expires_on.isoformat() if c.expires_on else None}
            for c in Certificate.objects.filter(user=user).select_related("course")
        ],
        "emails": [
            {"kind": c.kind, "subject": c.subject, "sent_at": c.sent_at.isoformat()
             if c.sent_at else None}
            for c in Communication.objects.filter(user=user).only("kind", "subject", "sent_at")
        ],
    }


def user_anonymise(*, user: User, actor: User | None = None) -> User:
    """Erase a person while keeping the accounting: bookings and payments keep amounts and
    dates; names, emails, phone and notes go. The account can no longer sign in."""
    from apps.bookings.models import Attendee, Booking

    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.anonymised_at:
            return locked
        placeholder = f"deleted-{locked.pk}@deleted.invalid"
        Attendee.objects.filter(user=locked).update(name="Deleted person", email=placeholder)
        Booking.objects.filter(purchaser=locked).update(company_name="",
                                                         special_requirements="")
        EmailAddress.objects.filter(user=locked).delete()
        from apps.core.models import Communication

        Communication.objects.filter(user=locked).update(recipient=placeholder,
                                                          body="[removed at the person's request]")
        locked.email = placeholder
        locked.first_name = locked.last_name = locked.phone = locked.company_name = ""
        locked.marketing_consent = False
        locked.is_active = False
        locked.stripe_customer_id = ""
        locked.set_unusable_password()
        locked.anonymised_at = timezone.now()
        locked.save()
        log_action("user.anonymised", actor=actor or locked, target=locked, user=locked)
    return locked


def user_totals_fix(*, user_id: int) -> TotalsDrift | None:
    """Set one user's totals to what the ledger says, under their row lock. Returns the
    drift that was fixed, or None when the totals were right by then.

    The services change a user's totals with UPDATEs in the same transaction as the
    ledger rows, so once we hold the row lock, every ledger change we can see is counted
    in the stored totals and every one we cannot see will add itself after we commit.
    """
    with transaction.atomic():
        if not User.objects.select_for_update().filter(pk=user_id).exists():
            return None
        drift = next(iter(user_totals_drift(user_ids=[user_id])), None)
        if drift is None:
            return None
        fixed = User.objects.filter(
            pk=user_id, total_bookings=drift.stored_bookings, total_spent=drift.stored_spent
        ).update(total_bookings=drift.expected_bookings, total_spent=drift.expected_spent)
        if not fixed:
            return None
        log_action(
            "user.totals_recomputed", target=User(pk=user_id), user=user_id,
            data={"stored": {"total_bookings": drift.stored_bookings,
                             "total_spent": drift.stored_spent},
                  "expected": {"total_bookings": drift.expected_bookings,
                               "total_spent": drift.expected_spent}},
        )
    return drift
