"""Issue #21.1/#21.2: a NUL character in any public parameter, and a deeply nested JSON
body on any public endpoint, are a 400 (never a 500), refused once for the whole site
(apps/core/request_guard.py). The parameters are listed from the forms and the OpenAPI
schema themselves, so a new field is tried without anyone remembering to add it here."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apps.portal.forms import BookingForm
from apps.users.forms import ProfileForm
from apps.users.models import User
from tests.factories import SessionFactory, UserFactory, make_booking

NUL = "a\x00b"
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture
def world(db):
    session = SessionFactory(capacity=20)
    customer = UserFactory(email="buyer@example.com")
    booking = make_booking(session, email=customer.email, seats=2)
    admin = UserFactory(email="admin@example.com", role=User.Role.ADMIN, is_staff=True)
    token = Token.objects.create(user=admin).key
    return {"session": session, "booking": booking, "customer": customer, "admin": admin,
            "token": token}


def _assert_refused(response, *, json_expected=False):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    if json_expected:
        error = response.json()["error"]
        assert error["code"] == "invalid", error
        assert "NUL" in error["message"] or "deeper" in error["message"], error


def _html_get_parameters(world):
    session, booking = world["session"], world["booking"]
    return [
        ("/", ["course", "location", "page"]),
        (f"/sessions/{session.pk}/", ["any"]),
        (f"/sessions/{session.pk}/book/", ["seats", "from"]),
        (f"/bookings/{booking.reference}/", ["key"]),
        ("/certificates/verify/CERT-NONE/", ["any"]),
        ("/accounts/login/code/", ["next"]),
        ("/admin/login/", ["next"]),
        ("/portal/", ["any"]),
        ("/healthz", ["any"]),
    ]


def _html_forms(world):
    session, booking = world["session"], world["booking"]
    booking_fields = list(BookingForm(session=session, data={"seats": "3"}).fields)
    assert "attendee_3_email" in booking_fields
    return [
        (f"/sessions/{session.pk}/book/", booking_fields, {"seats": "1"}),
        (f"/bookings/{booking.reference}/pay/", ["confirmation_token"], {}),
        ("/accounts/login/code/", ["email"], {}),
        ("/accounts/login/code/confirm/", ["code"], {}),
        ("/accounts/login/", ["login", "password", "next"], {}),
        ("/accounts/2fa/authenticate/", ["code"], {}),
        ("/portal/profile/", list(ProfileForm.base_fields), {}),
        ("/portal/delete/", ["confirm"], {}),
        (f"/portal/bookings/{booking.reference}/cancel/", ["any"], {}),
    ]


HEADERS = ["User-Agent", "X-Request-ID", "Cookie", "HX-Request", "HX-Current-URL",
           "Accept-Language", "Referer", "X-Forwarded-For", "Authorization",
           "Idempotency-Key", "Stripe-Signature", "Origin"]


def _api_operations(world):
    client = Client()
    schema = client.get("/api/schema/?format=json").json()
    ids = {"id": world["session"].pk, "pk": world["session"].pk,
           "reference": world["booking"].reference}
    operations = []
    for path, methods in schema["paths"].items():
        url = path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", str(value))
        for method, operation in methods.items():
            params = [(p["in"], p["name"]) for p in operation.get("parameters", [])
                      if p["in"] in ("query", "header")]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            body_schema = _resolve(schema, body["schema"]) if body else None
            operations.append((method, url, params, body_schema, schema))
    return operations


def _resolve(schema, node):
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return schema["components"]["schemas"][name]
    return node


def _json_paths(schema, node, prefix=()):
    """Every (nested) property of a request body schema, as a path of keys."""
    node = _resolve(schema, node)
    if node.get("type") == "array":
        yield from _json_paths(schema, node["items"], (*prefix, 0))
        return
    for name, prop in node.get("properties", {}).items():
        resolved = _resolve(schema, prop)
        if resolved.get("type") in ("object", "array") or "properties" in resolved:
            yield from _json_paths(schema, resolved, (*prefix, name))
        else:
            yield (*prefix, name)


def _body_with(path, value):
    """A body shaped like the schema along `path`, with `value` at its end."""
    if not path:
        return value
    head, *rest = path
    if head == 0:
        return [_body_with(rest, value)]
    return {head: _body_with(rest, value)}


def test_nul_in_every_public_query_parameter_is_a_400(world):
    client = Client()
    client.force_login(world["customer"])
    tried = 0
    for url, names in _html_get_parameters(world):
        for name in names:
            _assert_refused(client.get(url, {name: NUL}))
            tried += 1
        _assert_refused(client.get(url, {NUL: "x"}))
    assert tried >= 10


def test_nul_in_the_path_is_a_400(world):
    for url in ["/certificates/verify/a\x00b/", "/bookings/BK-\x00/", "/a\x00/",
                "/api/customer/bookings/BK\x00", "/admin/users/user/\x00/change/"]:
        _assert_refused(Client().get(url))


def test_nul_in_every_public_form_field_is_a_400(world):
    client = Client()
    client.force_login(world["customer"])
    for url, names, base in _html_forms(world):
        for name in names:
            _assert_refused(client.post(url, {**base, name: NUL}))


def test_nul_in_every_header_is_a_400(world):
    client = Client()
    for url in ["/", f"/sessions/{world['session'].pk}/", "/admin/login/", "/api/sessions/",
                "/webhooks/stripe/"]:
        for header in HEADERS:
            _assert_refused(client.get(url, headers={header: NUL}))
    # A staff login with a NUL in the User-Agent (django-axes stores it) is refused too.
    form = {"login": "x@example.com", "password": "nope"}  # pragma: allowlist secret
    _assert_refused(client.post("/accounts/login/", form, headers={"User-Agent": NUL}))


def test_nul_in_every_api_parameter_and_json_value_is_a_json_400(world):
    client = Client(headers={"Authorization": f"Token {world['token']}"})
    body_values = 0
    for method, url, params, body_schema, schema in _api_operations(world):
        call = getattr(client, method)
        for where, name in params:
            if where == "query":
                response = call(url, {name: NUL}) if method == "get" else \
                    call(f"{url}?{name}=a%00b", "{}", content_type="application/json")
            else:
                response = call(url, headers={name: NUL}) if method == "get" else \
                    call(url, "{}", content_type="application/json", headers={name: NUL})
            _assert_refused(response, json_expected=True)
        if body_schema is not None:
            for path in _json_paths(schema, body_schema):
                body = json.dumps(_body_with(path, NUL))
                assert "\\u0000" in body
                _assert_refused(call(url, body, content_type="application/json"),
                                json_expected=True)
                body_values += 1
            # Form-encoded bodies reach the same API views.
            first = next(iter(body_schema.get("properties", {})), "x")
            _assert_refused(call(url, {first: NUL}), json_expected=True)
    assert body_values >= 10  # session, purchaser.*, attendees.*.*, payment, amount...


def test_escaped_backslash_before_u0000_is_not_a_nul(world):
    """`"\\\\u0000"` in JSON is a backslash followed by "u0000": ordinary text."""
    client = Client(headers={"Authorization": f"Token {world['token']}"})
    response = client.post("/api/admin/bookings", json.dumps({"payment": "\\u0000"}),
                           content_type="application/json")
    assert response.status_code == 400
    assert "payment" in response.json()["error"]["fields"]
    assert "NUL" not in response.json()["error"]["message"]


def _public_urls(world):
    urls = {url for url, _ in _html_get_parameters(world)}
    urls |= {url for url, _, _ in _html_forms(world)}
    urls |= {url for _, url, _, _, _ in _api_operations(world)}
    urls |= {"/webhooks/stripe/", reverse("api:schema")}
    return sorted(urls)


def test_deeply_nested_json_on_every_public_endpoint_is_a_json_400(world):
    client = Client(headers={"Authorization": f"Token {world['token']}"})
    urls = _public_urls(world)
    assert "/api/admin/bookings" in urls and len(urls) > 15
    for url in urls:
        for method in ("post", "put", "patch"):
            response = getattr(client, method)(url, DEEP, content_type="application/json")
            assert response.status_code == 400, (method, url, response.status_code)
            assert response["Content-Type"].startswith("application/json"), url
            assert "deeper" in response.json()["error"]["message"]


def test_deeply_nested_json_to_admin_bookings_is_the_api_error(world):
    """The exact report: a staff token, 5000 brackets, an HTML 500 (RecursionError)."""
    client = Client(headers={"Authorization": f"Token {world['token']}"})
    response = client.post("/api/admin/bookings", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    # A body of ordinary depth is still read and validated field by field.
    response = client.post("/api/admin/bookings", json.dumps({"attendees": [[[]]]}),
                           content_type="application/json")
    assert response.status_code == 400
    assert "session_id" in response.json()["error"]["fields"]


def test_catalogue_course_nul_is_a_400_page(world):
    response = Client().get("/?course=%00")
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_a_signed_stripe_event_with_nul_is_still_accepted(world, settings):
    """Stripe's events are stored as received (the view marks NULs): refusing one would
    make Stripe retry it for days and leave the payment unknown."""
    import time

    import stripe

    payload = json.dumps({"id": "evt_nul_1", "type": "customer.updated", "created": 1,
                          "data": {"object": {"id": "cus_1", "name": "a\x00b"}}})
    timestamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(
        f"{timestamp}.{payload}", settings.STRIPE_WEBHOOK_SECRET)
    response = Client().post("/webhooks/stripe/", payload, content_type="application/json",
                             headers={"Stripe-Signature": f"t={timestamp},v1={signature}"})
    assert response.status_code == 200, response.content


def test_over_long_query_string_is_a_414(world):
    response = Client().get("/api/sessions/", {"course": "a" * 5000})
    assert response.status_code == 414
    assert response.json()["error"]["code"] == "uri_too_long"
    assert Client().get("/", {"course": "a" * 5000}).status_code == 414
