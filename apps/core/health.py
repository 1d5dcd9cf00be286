"""Checks behind /healthz: each answers (ok, detail) and never raises."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from kombu import Connection


def check_database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"


def check_cache():
    try:
        cache.set("healthz", "1", timeout=5)
        if cache.get("healthz") != "1":
            return False, "value written was not read back"
        return True, "ok"
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"


def check_broker():
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return True, "ok (in-process, tasks run eagerly)"
    try:
        with Connection(url, connect_timeout=2, transport_options={"max_retries": 0}) as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
        return True, "ok"
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


def run_checks():
    return {name: check() for name, check in CHECKS.items()}
