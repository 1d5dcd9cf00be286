"""A test fails when Redis or Stripe is called while the code holds a row lock.

A row lock is held from the statement that takes it until the transaction ends. Statements
that take one: `SELECT ... FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE`, and
`UPDATE` or `DELETE` of rows in the tables where requests queue on rows (bookings,
payments, refunds, sessions, users' totals). INSERTs are left out on purpose: a new row is
invisible to everyone else until the commit, so nobody waits on it, and every service writes
them (audit entries, events) — counting them would flag transactions that block nobody.

Every connection a test uses gets an execute wrapper (the test thread's at the start, any
other thread's when it connects). A transaction is ours when it is opened inside the test
itself or its fixtures: the atomic blocks open once pytest-django has set up the
database belong to it (the test-wide transaction that stands in for autocommit), so a
lock taken at that depth is one that production would have committed at once. The lock
is held while the outermost atomic block above that depth, the one that was open when it
was taken, is still open.

Redis is watched at redis-py's `Redis.execute_command` and `Pipeline.execute` (django-redis
and Celery's Redis transport both go through them); Stripe at the SDK's
`HTTPClient.request_with_retries`, which every request of every HTTP client passes through.
A call under a lock raises LockHeldDuringNetworkCall at once (and the test fails at teardown
too, in case the code swallowed the error).
"""

import re
import threading

import pytest
import redis
import redis.client
from django.db import connections
from django.db.backends.signals import connection_created
from stripe import _http_client

LOCKING_SELECT = re.compile(r"\bFOR\s+(NO\s+KEY\s+UPDATE|UPDATE|SHARE|KEY\s+SHARE)\b", re.I)
LOCKED_TABLES = ("bookings_booking", "payments_payment", "refunds_refund",
                 "course_sessions_coursesession", "users_user")
WRITE = re.compile(r'^\s*(UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.I)


class LockHeldDuringNetworkCall(AssertionError):
    pass


def takes_row_lock(sql: str) -> bool:
    if LOCKING_SELECT.search(sql):
        return True
    write = WRITE.match(sql)
    return bool(write and write.group(2).lower() in LOCKED_TABLES)


class Guard:
    def __init__(self):
        self.baseline: dict[int, int] = {}  # id(connection) -> atomic depth of the harness
        self.owner: dict[int, object] = {}  # id(connection) -> block that holds a lock
        self.violations: list[str] = []
        self.main_thread = threading.get_ident()

    def _base(self, connection) -> int:
        return self.baseline.get(id(connection), 0)

    def wrapper(self, connection):
        def execute(run, sql, params, many, context):
            if isinstance(sql, str) and takes_row_lock(sql):
                base = self._base(connection)
                if len(connection.atomic_blocks) > base:
                    self.owner[id(connection)] = connection.atomic_blocks[base]
            return run(sql, params, many, context)
        execute.lock_guard = True
        return execute

    def attach(self, connection) -> None:
        if not any(getattr(w, "lock_guard", False) for w in connection.execute_wrappers):
            connection.execute_wrappers.append(self.wrapper(connection))

    def detach(self, connection) -> None:
        connection.execute_wrappers[:] = [
            w for w in connection.execute_wrappers if not getattr(w, "lock_guard", False)]

    def lock_holder(self) -> str | None:
        for connection in connections.all(initialized_only=True):
            owner = self.owner.get(id(connection))
            base = self._base(connection)
            if owner is not None and len(connection.atomic_blocks) > base \
                    and connection.atomic_blocks[base] is owner:
                return connection.alias
        return None

    def check(self, what: str) -> None:
        alias = self.lock_holder()
        if alias is not None:
            message = (f"{what} while a row lock is held on database {alias!r}: "
                       "run it after the commit (transaction.on_commit) or before the lock")
            self.violations.append(message)
            raise LockHeldDuringNetworkCall(message)


@pytest.fixture(autouse=True)
def lock_guard(request, monkeypatch):
    """After pytest-django has opened its test-wide atomic blocks (_django_db_helper), and
    before any other fixture writes: the blocks open now are the harness's. A test that
    uses no database does not get one."""
    if "_django_db_helper" in request.fixturenames \
            or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("_django_db_helper")
    guard = Guard()
    for connection in connections.all(initialized_only=True):
        guard.baseline[id(connection)] = len(connection.atomic_blocks)

    def on_connect(sender, connection, **kwargs):
        guard.attach(connection)

    for connection in connections.all():
        guard.attach(connection)
    connection_created.connect(on_connect, weak=False, dispatch_uid="tests.lock_guard")

    original_command = redis.Redis.execute_command
    original_pipeline = redis.client.Pipeline.execute
    original_stripe = _http_client.HTTPClient.request_with_retries

    def execute_command(self, *args, **options):
        guard.check(f"Redis {args[0] if args else ''}")
        return original_command(self, *args, **options)

    def pipeline_execute(self, *args, **kwargs):
        guard.check("A Redis pipeline")
        return original_pipeline(self, *args, **kwargs)

    def request_with_retries(self, method, url, *args, **kwargs):
        guard.check(f"Stripe {method.upper()} {url}")
        return original_stripe(self, method, url, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", execute_command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", pipeline_execute)
    monkeypatch.setattr(_http_client.HTTPClient, "request_with_retries", request_with_retries)
    try:
        yield guard
    finally:
        connection_created.disconnect(dispatch_uid="tests.lock_guard")
        for connection in connections.all(initialized_only=True):
            guard.detach(connection)
    if guard.violations:
        pytest.fail("Network call under a row lock:\n" + "\n".join(guard.violations),
                    pytrace=False)
