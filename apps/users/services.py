from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.core.audit import log_action
from apps.core.errors import DomainError

from .models import ActivityLog, MarketingConsentChange, User, UserNote, normalize_email
from .roles import sync_role_groups
from .selectors import TotalsDrift, user_for_email, user_totals_drift


def user_get_or_create(
    *, email: str, first_name: str = "", last_name: str = "", company_name: str = "",
    phone: str = "",
) -> User:
    """Find the user an email routes to (`user_for_email`: never through an address that
    is only a pending change) or create a passwordless customer for it.

    Safe under concurrency: the case-insensitive unique index decides, and a loser of
    the race re-reads the winner's row. Blank profile fields are filled, never overwritten.
    """
    email = normalize_email(email)
    if not email:
        raise DomainError("An email address is required.")
    user = user_for_email(email=email)
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
            user = user_for_email(email=email)
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
        # The role is the only source of staff powers: leaving the admin role leaves
        # superuser too, and API tokens issued under the old role stop working.
        locked.is_superuser = locked.is_superuser and role == User.Role.ADMIN
        locked.save(update_fields=["role", "is_staff", "is_superuser"])
        sync_role_groups(locked)
        tokens_revoked = Token.objects.filter(user=locked).delete()[0]
        log_action(
            "user.role_changed",
            actor=actor,
            target=locked,
            user=locked,
            data={"old": old_role, "new": role,
                  **({"tokens_revoked": tokens_revoked} if tokens_revoked else {})},
        )
    return locked


def user_change_email(*, user: User, email: str, actor: User | None) -> User:
    """Staff set a person's address (e.g. they lost access to the old one). The new address
    becomes the account's only one; it is verified at the next sign-in by code."""
    email = normalize_email(email)
    if not email:
        raise DomainError("An email address is required.")
    owner = user_for_email(email=email)
    if owner is not None and owner.pk != user.pk:
        raise DomainError(f"{email} already belongs to another account.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        old_email = locked.email
        if old_email == email:
            return locked
        if User.objects.filter(email=email).exclude(pk=locked.pk).exists():
            raise DomainError(f"{email} already belongs to another account.")
        locked.email = email
        locked.save(update_fields=["email"])
        EmailAddress.objects.filter(user=locked).exclude(email=email).delete()
        EmailAddress.objects.update_or_create(user=locked, email=email,
                                              defaults={"primary": True})
        user_email_changed(user=locked, old_email=old_email, actor=actor)
    return locked


def user_email_changed(*, user: User, old_email: str, actor: User | None) -> None:
    """What follows any change of address (by staff, or verified by the person through
    allauth): records that copy the address follow it (email_changed signal), claims that
    other accounts made on the new address lapse, both addresses are told, and it is
    audited. Other sessions end by themselves: the session hash covers the address."""
    from apps.core.emails import communication_queue
    from apps.core.models import Communication

    from .signals import email_changed

    new_email = user.email
    EmailAddress.objects.filter(email=new_email, verified=False).exclude(user=user).delete()
    email_changed.send(sender=User, user=user, old_email=old_email, new_email=new_email)
    by_staff = actor is not None and actor.pk != user.pk
    for recipient in (old_email, new_email):
        communication_queue(
            kind=Communication.Kind.EMAIL_CHANGED, recipient=recipient,
            template="emails/email_changed.txt",
            context={"user": user, "old_email": old_email, "new_email": new_email,
                     "by_staff": by_staff},
            user=user, dedupe_key=f"user:{user.pk}:{timezone.now().timestamp()}",
        )
    log_action("user.email_changed", actor=actor, target=user, user=user,
               data={"old": old_email, "new": new_email})
def personal_data_viewed(*, viewer: User, user_id: int | None, target, where: str) -> None:
    """Record that a member of staff opened a customer's personal data (their profile, a
    booking of theirs): who, when, what and through which door. One's own data is not
    recorded."""
    if user_id is None or getattr(viewer, "pk", None) == user_id:
        return
    log_action("personal_data.viewed", actor=viewer, target=target, user=user_id,
               data={"where": where})


def marketing_consent_set(*, user: User, given: bool, source: str, actor: User | None = None,
                          now=None) -> bool:
    """Give or withdraw marketing consent, keeping its history. Returns whether it changed."""
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk).exclude(marketing_consent=given) \
            .update(marketing_consent=given)
        if changed:
            MarketingConsentChange.objects.create(
                user_id=user.pk, given=given, source=source,
                actor=actor if getattr(actor, "pk", None) else None,
                created_at=now or timezone.now())
        user.marketing_consent = given
    return bool(changed)


def _iso(value):
    return value.isoformat() if value else None


def user_export_data(*, user: User) -> dict:
    """Everything we hold about one person, as JSON-ready data (GDPR right of access):
    profile and marketing consent history, bookings (as purchaser: the names and emails they
    entered for their attendees; as attendee: their own seat), payments, refunds,
    certificates, the emails sent to them, staff notes about them and the activity log
    entries about them."""
    from apps.certificates.models import Certificate
    from apps.core.models import Communication
    from apps.refunds.selectors import bookings_naming_person

    from .models import ActivityLog

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
            "company_name": booking.company_name if own else "",
            "special_requirements": booking.special_requirements if own else "",
            "created_at": booking.created_at.isoformat(),
            "terms_accepted": ({"version": booking.terms_document.version,
                                "at": _iso(booking.terms_accepted_at)}
                               if own and booking.terms_document_id else None),
            "attendees": [
                {"name": a.name, "email": a.email, "attendance": a.attendance}
                for a in booking.attendees.all()
                if own or a.user_id == user.pk
            ],
            "payments": [
                {"amount": p.amount, "currency": p.currency, "status": p.status,
                 "method": p.method, "card_brand": p.card_brand, "card_last4": p.card_last4,
                 "created_at": p.created_at.isoformat(),
                 "refunds": [{"amount": r.amount, "currency": r.currency, "status": r.status,
                              "reason": r.reason, "created_at": r.created_at.isoformat()}
                             for r in p.refunds.all()],
                 "disputes": [{"amount": d.amount, "currency": d.currency, "reason": d.reason,
                               "status": d.status, "money_lost": d.money_lost}
                              for d in p.disputes.all()]}
                for p in booking.payments.all()
            ] if own else [],
        })
    return {
        "profile": {
            "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
            "phone": user.phone, "company_name": user.company_name,
            "marketing_consent": user.marketing_consent,
            "date_joined": user.date_joined.isoformat(),
            "last_login": _iso(user.last_login),
            "total_bookings": user.total_bookings, "total_spent": user.total_spent,
        },
        "marketing_consent_history": [
            {"given": change.given, "at": change.created_at.isoformat(),
             "how": change.get_source_display()}
            for change in user.consent_changes.all()
        ],
        "bookings": bookings,
        "certificates": [
            {"number": c.number, "course": c.course.title, "holder_name": c.holder_name,
             "issued_on": c.issued_on.isoformat(), "expires_on": _iso(c.expires_on),
             "revoked_at": _iso(c.revoked_at), "revoked_reason": c.revoked_reason}
            for c in Certificate.objects.filter(user=user).select_related("course")
        ],
        "emails": [
            {"kind": c.kind, "recipient": c.recipient, "subject": c.subject, "body": c.body,
             "attachments": [a.get("filename", "") for a in c.attachments or []
                             if isinstance(a, dict)],
             "status": c.status, "created_at": _iso(c.created_at), "sent_at": _iso(c.sent_at)}
            for c in Communication.objects.filter(user=user).order_by("created_at", "pk")
        ],
        "staff_notes": [
            {"written_at": note.created_at.isoformat(), "text": note.text}
            for note in user.notes.order_by("created_at", "pk")
        ],
        "activity": [
            {"at": entry.created_at.isoformat(), "action": entry.action,
             "about": f"{entry.target_type}:{entry.target_id}" if entry.target_type else "",
             "data": entry.data}
            for entry in ActivityLog.objects.filter(user=user).order_by("created_at", "pk")
        ],
    }


def user_anonymise(*, user: User, actor: User | None = None) -> User:
    """Erase a person while keeping the accounting: bookings and payments keep amounts and
    dates; names, emails, phone and staff notes go, and so do the free-text reasons and
    addresses copied into their activity history (the ledger rows themselves are never
    rewritten). The account can no longer sign in. Upcoming bookings are the caller's to
    cancel first (apps.bookings.erasure)."""
    from apps.bookings.idempotency import idempotency_keys_erase
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
        UserNote.objects.filter(user=locked).delete()
        _erase_activity_free_text(user=locked)
        idempotency_keys_erase(user=locked)  # no replay of their bookings' API keys
        _erase_stripe_event_payloads(user=locked)
        if locked.marketing_consent:
            MarketingConsentChange.objects.create(
                user=locked, given=False, source=MarketingConsentChange.Source.ERASURE,
                actor=actor if getattr(actor, "pk", None) else None,
                created_at=timezone.now())
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


def _erase_stripe_event_payloads(*, user: User) -> None:
    """Stored Stripe events about this person's payments (intents, charges, refunds,
    disputes and fraud warnings carry names, emails and billing addresses) keep only their
    accounting fields, as the 7-year retention does."""
    # Function-level imports: users sit below payments (which build on users), so the
    # erasure reaches up to them only when it runs.
    from apps.core.retention import stripe_payload_accounting_only
    from apps.payments.models import Dispute, Payment, StripeEvent

    intents = list(Payment.objects.filter(user=user, stripe_payment_intent_id__isnull=False)
                   .values_list("stripe_payment_intent_id", flat=True))
    disputes = list(Dispute.objects.filter(payment__user=user)
                    .values_list("stripe_dispute_id", flat=True))
    if not intents and not disputes:
        return
    events = StripeEvent.objects.filter(
        Q(object_id__in=intents + disputes)
        | Q(payload__data__object__payment_intent__in=intents))
    for event in events.only("pk", "payload"):
        if not event.payload.get("redacted"):
            StripeEvent.objects.filter(pk=event.pk).update(
                payload=stripe_payload_accounting_only(event.payload))


ERASED = "[removed at the person's request]"
ERASABLE_ACTIVITY_ACTIONS_FOR_OLD_NEW = ("user.email_changed",)


def _erase_activity_free_text(*, user: User) -> None:
    for entry in ActivityLog.objects.filter(user=user).filter(
            Q(data__has_key="reason")
            | Q(action__in=ERASABLE_ACTIVITY_ACTIONS_FOR_OLD_NEW)).only("data", "action"):
        keys = ["reason"] + (["old", "new"] if entry.action in
                             ERASABLE_ACTIVITY_ACTIONS_FOR_OLD_NEW else [])
        entry.data = {**entry.data, **{k: ERASED for k in keys if k in entry.data}}
        entry.save(update_fields=["data"])


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
