"""The database unreachable is answered with the 503 page wherever it is noticed: in the
view (middleware) or after it, when the session is saved (Django's error handlers). The
full fault, a real PostgreSQL restart under load, is in tests/faults/test_database_restart.py."""

import json

import psycopg
import pytest
from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import OperationalError, connections
from django.test import RequestFactory

from apps.core.unavailable import DatabaseUnavailableMiddleware, bad_request, server_error
from tests.conftest import free_port

# Allowed to connect: the unreachable server is reached for real, not faked.
pytestmark = pytest.mark.django_db


def real_connection_error() -> OperationalError:
    """What Django raises when PostgreSQL does not answer (nothing listens on the port)."""
    settings = {**connections["default"].settings_dict, "PORT": str(free_port()),
                "OPTIONS": {"connect_timeout": 1}}
    connection = connections["default"].__class__(settings, alias="unreachable")
    try:
        connection.ensure_connection()
    except OperationalError as error:
        assert isinstance(error.__cause__, psycopg.OperationalError)
        return error
    finally:
        connection.close()
    pytest.fail("a connection to a closed port succeeded")


def assert_unavailable_page(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"briefly unavailable" in response.content


def test_view_that_cannot_reach_the_database_gets_the_503_page():
    request = RequestFactory().get("/")
    middleware = DatabaseUnavailableMiddleware(lambda r: None)
    assert_unavailable_page(middleware.process_exception(request, real_connection_error()))
    assert middleware.process_exception(request, ValueError("a bug")) is None  # still a 500


def test_api_gets_the_json_error_shape():
    request = RequestFactory().get("/api/sessions")
    response = DatabaseUnavailableMiddleware(lambda r: None).process_exception(
        request, real_connection_error())
    assert response.status_code == 503
    assert json.loads(response.content)["error"]["code"] == "unavailable"


def test_session_that_cannot_be_saved_after_the_view_is_a_503_not_a_400():
    request = RequestFactory().post("/sessions/1/book/")
    try:
        try:
            raise real_connection_error()
        except OperationalError as error:
            raise SessionInterrupted("The request's session was deleted") from error
    except SessionInterrupted as interrupted:
        assert_unavailable_page(bad_request(request, interrupted))
    assert bad_request(request, SessionInterrupted("logged out elsewhere")).status_code == 400


def test_uncaught_database_error_outside_the_view_is_a_503_not_a_500():
    request = RequestFactory().get("/")
    try:
        raise real_connection_error()
    except OperationalError:
        assert_unavailable_page(server_error(request))
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(request).status_code == 500
