"""Sessions in the database (Django's own backend), a new one saved with one INSERT.

Django's backend asks the table whether a freshly drawn key exists before using it, then
wraps the INSERT in a transaction of its own: three round trips and two transactions for
every new session, and the booking form starts one for every anonymous customer who books
(the browser that booked may open its booking). The key is 32 characters drawn from 36,
so a clash is never expected, and the primary key refuses one anyway: the INSERT fails,
CreateError, and create() draws another key, as Django does when its check loses a race.
Inside a caller's transaction Django's savepoint is kept, so that a clash cannot spoil
the caller's transaction."""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import IntegrityError, connections, router
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def _get_new_session_key(self):
        return get_random_string(32, VALID_KEY_CHARS)

    def save(self, must_create=False):
        if not must_create or self.session_key is None:
            return super().save(must_create=must_create)
        using = router.db_for_write(self.model)
        if connections[using].in_atomic_block:
            return super().save(must_create=True)
        record = self.create_model_instance(self._get_session(no_load=True))
        try:
            record.save(force_insert=True, using=using)
        except IntegrityError as clash:
            raise CreateError from clash
