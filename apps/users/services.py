from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.core.emails import communication_queue
from apps.core.errors import DomainError
from apps.core.models import Communication
from apps.users.audit import log_action

from .models import ActivityLog, MarketingConsentChange, User, normalize_email
from .roles import role_access_apply
from .selectors import user_for_email
from .signals import email_changed


def user_get_or_create(
    *, email: str, first_name: str = "", last_name: str = "", company_name: str = "",
    phone: str = "", role: str = User.Role.CUSTOMER, actor: User | None = None,
) -> User:
    """Find the user an email routes to (`user_for_email`: never through an address that
    is only a pending change) or create a passwordless account for it: a customer, or
    the `role` given (its access follows the role and the role is audited, with `actor`).
    An existing account keeps its role: change it with `user_change_role`.

    Safe under concurrency: the case-insensitive unique index decides, and a loser of
    the race re-reads the winner's row. Blank profile fields are filled, never overwritten.
    """
    email = normalize_email(email)
    if not email:
        raise DomainError("An email address is required.")
    if role not in User.Role.values:
        raise DomainError(f"Unknown role {role!r}.")
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
                    role=role,
                    actor=actor,
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
    return user_fill_blanks(user=user, first_name=first_name, last_name=last_name,
                            company_name=company_name, phone=phone)


PROFILE_FIELDS = ("first_name", "last_name", "company_name", "phone")


def user_fill_blanks(*, user: User, **profile: str) -> User:
    """Fill the blank profile fields of an account we know (one UPDATE, none when nothing
    is blank and given); what is already there is never overwritten."""
    updates = {field: value for field, value in profile.items()
               if field in PROFILE_FIELDS and value and not getattr(user, field)}
    if updates:
        User.objects.filter(pk=user.pk).update(**updates)
        for field, value in updates.items():
            setattr(user, field, value)
    return user


def customers_create(*, people: list[tuple[str, dict]]) -> dict[str, User]:
    """Passwordless customer accounts for addresses that route to nobody (the caller
    checked with `users_for_emails`, in the transaction that uses them): {address: user}.

    What `user_get_or_create` does for one new customer, for all of them at once in three
    INSERTs: the users, their allauth addresses (unverified until they sign in by code)
    and their `user.created` audit entries. A customer gets no staff access, so there is
    nothing for the role to set (`role_set_at_creation` changes nothing for one). In
    address order, so two transactions creating the same people cannot deadlock; an
    address created meanwhile by another transaction raises IntegrityError, which rolls
    the caller's transaction back (it tries again and finds the account).
    `people`: (address, profile) pairs; for an address given twice, the first profile's
    fields win and the later ones fill its blanks."""
    profiles: dict[str, dict] = {}
    for email, profile in people:
        email = normalize_email(email)
        if not email:
            raise DomainError("An email address is required.")
        merged = profiles.setdefault(email, {})
        for field in PROFILE_FIELDS:
            if profile.get(field) and not merged.get(field):
                merged[field] = profile[field]
    users = []
    for email in sorted(profiles):
        user = User(email=email, role=User.Role.CUSTOMER, **profiles[email])
        user.set_unusable_password()
        users.append(user)
    User.objects.bulk_create(users)
    EmailAddress.objects.bulk_create(
        EmailAddress(user=user, email=user.email, primary=True, verified=False)
        for user in users)
    ActivityLog.objects.bulk_create(
        ActivityLog(action="user.created", user=user, target_type=User._meta.label_lower,
                    target_id=str(user.pk)) for user in users)
    return {user.email: user for user in users}


def user_change_role(*, user: User, role: str, actor: User | None) -> User:
    """Change a user's role; staff access follows the role; every change is audited.

    The same role again changes nothing but still puts right any access that has drifted
    from it (role_access_apply)."""
    if role not in User.Role.values:
        raise DomainError(f"Unknown role {role!r}.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        old_role = locked.role
        if old_role == role:
            role_access_apply(locked)
            return locked
        locked.role = role
        locked.save(update_fields=["role"])
        # The role is the only source of staff powers: leaving the admin role leaves
        # superuser too, and API tokens issued under the old role stop working.
        role_access_apply(locked)
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
