"""apps/core/postgres: a quiet persistent connection is used without a round trip; one the
server ended is found so at the next request's check, closed, and opened again."""

import time

import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper

pytestmark = pytest.mark.django_db


@pytest.fixture
def persistent():
    """A second connection to the test database, persistent and health-checked, as the
    web workers' are in production (DB_CONN_MAX_AGE)."""
    default = connections["default"]
    assert default.vendor == "postgresql" and default.__class__.__module__ == (
        "apps.core.postgres.base")
    settings = {**default.settings_dict, "CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}
    connection = default.__class__(settings, alias="persistent")
    connection.ensure_connection()
    yield connection
    connection.close()


def next_request(connection):
    """What Django does between two requests, then the first query of the second."""
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_quiet_connection_is_used_without_asking_the_server(persistent, monkeypatch):
    asked = []
    monkeypatch.setattr(PostgresDatabaseWrapper, "is_usable",
                        lambda self: asked.append(1) or True)
    first = next_request(persistent)
    assert next_request(persistent) == first and next_request(persistent) == first
    assert asked == []


def test_a_connection_the_server_ended_is_replaced_before_it_is_used(persistent):
    pid = next_request(persistent)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 10
    while persistent._quiet() and time.monotonic() < deadline:
        time.sleep(0.05)  # the server's goodbye reaches the socket
    assert next_request(persistent) != pid  # a new server process, no error on the way


def test_a_connection_left_in_a_transaction_is_asked(persistent, monkeypatch):
    asked = []
    monkeypatch.setattr(PostgresDatabaseWrapper, "is_usable",
                        lambda self: asked.append(1) or True)
    next_request(persistent)
    persistent.connection.execute("BEGIN")
    persistent.health_check_done = False
    persistent.close_if_health_check_failed()
    assert asked == [1]
    persistent.connection.execute("ROLLBACK")
