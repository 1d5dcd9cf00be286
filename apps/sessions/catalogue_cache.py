"""The catalogue's session list, rendered once and shared by every visitor.

Rendering 24 session cards is most of a catalogue request (dates, money, availability).
The HTML is cached under a key that carries a *generation* number; anything that changes
what the list shows (seats taken or given back, a session, course or location saved or
deleted) bumps the generation after its transaction commits, so the next request renders
afresh. The services that change what the list shows call catalogue_changed() themselves
(no signal: the side effect is visible where it happens). A short TTL also drops sessions
that have started since.

The generation is read before the database: a render that raced with a booking is
stored under the old generation, which nobody asks for any more. With Redis down every
request renders (django-redis ignores the errors), so nothing breaks, it is only slower.
"""

import hashlib

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "catalogue:generation"
LIST_TTL_SECONDS = 60


def catalogue_generation() -> int:
    return cache.get(GENERATION_KEY) or 0


def catalogue_list_key(*, course: str, location: str, page: str) -> str:
    """Short and safe for any cache backend whatever the query string holds."""
    filters = hashlib.sha256(f"{course}\x00{location}\x00{page}".encode()).hexdigest()[:32]
    return f"catalogue:list:{catalogue_generation()}:{filters}"


def catalogue_changed() -> None:
    """Call from any write that changes seats, sessions, courses or locations. The bump
    runs after the commit (at once outside a transaction), never while the caller holds
    row locks: a slow Redis must not hold a popular session's row. A list rendered before
    the commit is stored under the old number, which nobody asks for afterwards."""
    transaction.on_commit(_bump, robust=True)


def _bump() -> None:
    cache.add(GENERATION_KEY, 0, timeout=None)  # no-op when it exists: no lost bump
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # evicted between the two calls: any new number will do
        cache.set(GENERATION_KEY, 1, timeout=None)

