import pytest
import yaml
from openapi_spec_validator import validate
from rest_framework.throttling import SimpleRateThrottle

from tests.api.conftest import assert_error, client_for
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_a_json_404():
    assert_error(client_for().get("/api/nothing/here"), 404, "not_found")
    assert_error(client_for().post("/api/nothing", {}, format="json"), 404, "not_found")


def test_405_shape():
    assert_error(client_for().post("/api/sessions/", {}, format="json"), 405,
                 "method_not_allowed")


def test_throttled_is_429_with_retry_after(monkeypatch, customer):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "3/min"})
    anon = client_for()
    for _ in range(2):
        assert anon.get("/api/sessions/").status_code == 200
    response = anon.get("/api/sessions/")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0

    signed_in = client_for(customer)
    for _ in range(3):
        assert signed_in.get("/api/customer/me").status_code == 200
    assert_error(signed_in.get("/api/customer/me"), 429, "throttled")


def test_schema_is_valid_openapi_and_documents_every_endpoint():
    response = client_for().get("/api/schema/")
    assert response.status_code == 200
    spec = yaml.safe_load(response.content)
    validate(spec)
    paths = spec["paths"]
    assert set(paths) == {
        "/api/sessions/", "/api/sessions/{id}/", "/api/customer/me", "/api/customer/bookings",
        "/api/customer/bookings/{reference}", "/api/admin/users/", "/api/admin/users/{id}",
        "/api/admin/bookings", "/api/admin/payments/{id}/refunds",
    }
    create = paths["/api/admin/bookings"]["post"]
    assert {"201", "400", "401", "403", "409", "422", "429"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert "tokenAuth" in spec["components"]["securitySchemes"]
    error = spec["components"]["schemas"]["ErrorDetail"]["properties"]
    assert set(error) == {"code", "message", "fields"}


def test_docs_page_loads_everything_from_our_own_origin():
    response = client_for().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "<script>" not in html and "<style" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    script = client_for().get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_session_detail_json_matches_schema_shape():
    session = SessionFactory()
    body = client_for().get(f"/api/sessions/{session.pk}/").json()
    assert set(body) == {"id", "course", "location", "starts_at", "ends_at", "status",
                         "capacity", "seats_left", "price", "currency"}
