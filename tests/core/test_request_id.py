import logging

import pytest

from apps.core.request_id import (
    RequestIDFilter,
    _adopt_request_id,
    _carry_request_id,
    _drop_request_id,
    request_id_var,
)

pytestmark = pytest.mark.django_db


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_valid_incoming_id_is_kept_and_junk_is_replaced(client):
    assert client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"})[
        "X-Request-ID"] == "lb-1234abcd"
    junk = client.get("/healthz", headers={"X-Request-ID": "<script>"})["X-Request-ID"]
    assert junk != "<script>" and len(junk) == 32


def test_log_lines_carry_the_id_and_tasks_inherit_it():
    token = request_id_var.set("req-abcdef12")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        RequestIDFilter().filter(record)
        assert record.request_id == "req-abcdef12"
        headers = {}
        _carry_request_id(headers=headers)
        assert headers == {"request_id": "req-abcdef12"}
    finally:
        request_id_var.reset(token)

    class FakeRequest:
        id = "t1"
        request_id = "req-abcdef12"

    class FakeTask:
        request = FakeRequest()

    task = FakeTask()
    _adopt_request_id(task=task)
    assert request_id_var.get() == "req-abcdef12"
    _drop_request_id(task=task)
    assert request_id_var.get() == "-"
