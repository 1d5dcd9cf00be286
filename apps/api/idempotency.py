"""`Idempotency-Key` for POST /api/admin/bookings: the header's rules and its token.

* The key, scoped to the calling staff user, becomes the booking's ``submission_token``
  via uuid5: ``booking_create`` returns the existing booking for a repeated token, and the
  unique index on ``submission_token`` decides races between processes.
* The key itself (its token, a hash of the body, the outcome) is kept in the database by
  apps/bookings/idempotency.py, which holds the rules: lifetime, replay, refusal.
"""

import hashlib
import json
import re
import uuid

from apps.bookings.idempotency import KEY_LIFETIME
from apps.core.errors import DomainError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(rf"[!-~]{{1,{MAX_KEY_LENGTH}}}")
LIFETIME_HOURS = int(KEY_LIFETIME.total_seconds() // 3600)
SCHEMA_DESCRIPTION = (
    f"Makes retrying safe. 1 to {MAX_KEY_LENGTH} visible ASCII characters (letters, digits, "
    "punctuation; no spaces), e.g. a UUID; anything else is a 400. Keys belong to the "
    "calling staff user and are kept in the database (not a cache).\n\n"
    f"* **Lifetime: {LIFETIME_HOURS} hours** from the first request with the key.\n"
    "* **Same key, same body** within that time: nothing more is created and the first "
    "outcome is answered again with the header `Idempotent-Replayed: true` — a 201 with the "
    "booking as it is now, or the same refusal with the same status, code and message. A "
    f"refusal is replayed too: a 409 sold out stays a 409 for the key's {LIFETIME_HOURS} "
    "hours even if seats free up (as Stripe does); send a new key to try again.\n"
    "* **Same key, different body**: 422 `idempotency_key_reused`, nothing changes.\n"
    f"* **After {LIFETIME_HOURS} hours**, or once the people of its booking were erased: "
    "422 `idempotency_key_retired` whatever the body — a key is never reused.\n"
    "* Validation errors (400) and failures (5xx) are not remembered: fix and retry with the "
    "same key.\n"
    "* What is kept per key: a SHA-256 of the body, the status, the booking id or the "
    "refusal's code and message — no names or email addresses."
)
NAMESPACE = uuid.UUID("8f0c6a7e-4b7d-4d51-9b39-3c1f1c2b7a10")


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
