"""apps/core/session_store.py: a new session is one INSERT; a clash of keys draws again."""

import pytest
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core import session_store
from apps.core.session_store import SessionStore


@pytest.mark.django_db(transaction=True)
def test_a_new_session_is_one_statement_and_reads_back():
    store = SessionStore()
    store["my_bookings"] = ["BK-7K3M9Q"]
    with CaptureQueriesContext(connection) as queries:
        store.save()
    assert [q["sql"].split()[0] for q in queries] == ["INSERT"]
    assert SessionStore(session_key=store.session_key)["my_bookings"] == ["BK-7K3M9Q"]
    store["my_bookings"].append("BK-2222AA")
    store.modified = True
    store.save()  # an existing session is updated as Django does
    assert SessionStore(session_key=store.session_key)["my_bookings"] == [
        "BK-7K3M9Q", "BK-2222AA"]
    assert Session.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_key_that_clashes_is_drawn_again(monkeypatch):
    taken = SessionStore()
    taken["who"] = "first"
    taken.save()
    keys = iter([taken.session_key, "k" * 32])
    monkeypatch.setattr(session_store, "get_random_string", lambda *args: next(keys))
    store = SessionStore()
    store["who"] = "second"
    store.save()
    assert store.session_key == "k" * 32
    assert SessionStore(session_key=taken.session_key)["who"] == "first"
    assert SessionStore(session_key="k" * 32)["who"] == "second"


@pytest.mark.django_db(transaction=True)
def test_a_clash_inside_a_transaction_leaves_the_transaction_usable(monkeypatch):
    taken = SessionStore()
    taken.save()
    keys = iter([taken.session_key, "m" * 32])
    monkeypatch.setattr(session_store, "get_random_string", lambda *args: next(keys))
    with transaction.atomic():
        store = SessionStore()
        store["who"] = "inside"
        store.save()
        assert Session.objects.count() == 2
    assert SessionStore(session_key="m" * 32)["who"] == "inside"
