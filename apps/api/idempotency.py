"""`Idempotency-Key` for POST /api/admin/bookings, without a model of its own.

* The key (scoped to the caller) becomes the booking's ``submission_token`` via uuid5:
  ``booking_create`` already returns the existing booking for a repeated token, and the
  unique index on ``submission_token`` decides races between processes.
* The shared cache (Redis) remembers, per key, a hash of the body and the first final
  response, so a replay returns the same status and body and a different body is refused.
* If the cache lost the entry (eviction, Redis down), the booking found by its token is
  compared with the request instead, so a different body is still refused.
"""

import hashlib
import json
import re
import uuid

from django.core.cache import cache

from apps.core.errors import DomainError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(rf"[!-~]{{1,{MAX_KEY_LENGTH}}}")
TTL_SECONDS = 24 * 60 * 60
SCHEMA_DESCRIPTION = (
    f"1 to {MAX_KEY_LENGTH} visible ASCII characters (no spaces), e.g. a UUID; anything else "
    "is a 400. Scoped to the calling staff user. Same key and same body within 24 hours: "
    "the first answer is replayed (header `Idempotent-Replayed: true`) and nothing more is "
    "created. Same key, other body: 422.")
NAMESPACE = uuid.UUID("8f0c6a7e-4b7d-4d51-9b39-3c1f1c2b7a10")


class IdempotencyKeyMismatch(DomainError):
    code = "idempotency_key_reused"
    status = 422


def read_key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_PATTERN.fullmatch(key):
        raise DomainError(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (letters, "
            "digits and punctuation; no spaces), e.g. a UUID.",
            code="invalid_idempotency_key",
        )
    return key


def submission_token(*, user_id: int, key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"api.admin.bookings:{user_id}:{key}")


def body_hash(data) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _cache_key(token: uuid.UUID) -> str:
    return f"api:idempotency:{token}"


def _mismatch() -> IdempotencyKeyMismatch:
    return IdempotencyKeyMismatch(
        f"This {HEADER} was already used with a different request body. Send the original "
        "body to get the original result, or use a new key for a new booking."
    )


def claim(token: uuid.UUID, digest: str) -> dict | None:
    """Remember which body this key belongs to. Returns the stored first response
    ``{"status", "body"}`` for a replay, None when this request should run (first time, or
    the first one is still running: the submission token makes running it again safe).
    Raises IdempotencyKeyMismatch for the same key with another body."""
    entry = {"hash": digest}
    if cache.add(_cache_key(token), entry, TTL_SECONDS):
        return None
    stored = cache.get(_cache_key(token))
    if stored is None:
        return None
    if stored.get("hash") != digest:
        raise _mismatch()
    if "status" in stored:
        return {"status": stored["status"], "body": stored["body"]}
    return None


def remember(token: uuid.UUID, digest: str, *, status: int, body) -> None:
    cache.set(_cache_key(token), {"hash": digest, "status": status, "body": body}, TTL_SECONDS)


def forget(token: uuid.UUID) -> None:
    cache.delete(_cache_key(token))


def check_same_booking(booking, *, session_id: int, purchaser_email: str,
                       attendee_emails: list[str]) -> None:
    """Fallback when the cache forgot the body: the booking made with this key must be
    the one this body asks for."""
    from apps.users.models import normalize_email

    same = (
        booking.session_id == session_id
        and booking.purchaser.email == normalize_email(purchaser_email)
        and sorted(a.email for a in booking.attendees.all())
        == sorted(normalize_email(e) for e in attendee_emails)
    )
    if not same:
        raise _mismatch()
