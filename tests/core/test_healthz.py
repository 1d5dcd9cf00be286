import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_is_ok_when_every_service_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_names_the_cache_when_it_is_unreachable(client):
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": DEAD_REDIS,
                          "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5}}}
    with override_settings(CACHES=caches):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["cache"]


def test_healthz_names_the_broker_when_it_is_unreachable(client):
    with override_settings(CELERY_BROKER_URL=DEAD_REDIS):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["checks"]["broker"]["detail"]
