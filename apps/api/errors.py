"""One error shape for the whole API: ``{"error": {"code", "message", "fields"}}``.

Wired with ``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "apps.api.errors.api_exception_handler"``.
Domain rules raise ``DomainError`` (its ``status``: 400, 404, 409, 503...) and are
answered here, so views never translate them by hand.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import DomainError

DEFAULT_MESSAGES = {
    400: "The request is not valid.",
    401: "Authentication credentials were not provided or are not valid.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "This method is not allowed here.",
    406: "This response format is not available.",
    409: "The request conflicts with the current state.",
    415: "This content type is not supported.",
    422: "The request cannot be processed.",
    429: "Too many requests.",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation detail as ``{"attendees.0.email": ["..."]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                name = prefix or "non_field_errors"  # errors of the object itself
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _flatten(value, name).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            if detail:
                out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for field, messages in _flatten(item, f"{prefix}.{index}" if prefix
                                                else str(index)).items():
                    out.setdefault(field, []).extend(messages)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _validation_message(fields: dict[str, list[str]]) -> str:
    if list(fields) == ["non_field_errors"]:
        return " ".join(fields["non_field_errors"])
    names = ", ".join(sorted(fields))
    return f"Some fields are not valid: {names}."


def api_exception_handler(exc, context):
    """DRF exception handler. Anything it does not know (a bug) still raises: a 500."""
    if isinstance(exc, DomainError):
        code = exc.code
        if exc.status == 404:
            code = "not_found"
        return Response(error_body(code, exc.message), status=exc.status)

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    status_code = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        body = error_body("invalid", _validation_message(fields), fields)
    else:
        detail = getattr(exc, "detail", "")
        message = str(detail) if isinstance(detail, str) and detail else DEFAULT_MESSAGES.get(
            status_code, "Error.")
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, exceptions.ErrorDetail) and detail.code:
            code = detail.code
        if isinstance(exc, exceptions.Throttled):
            code = "throttled"
        if status_code == status.HTTP_403_FORBIDDEN and isinstance(
            exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)
        ):
            # Only reached when no authentication class offers a challenge header.
            code = "not_authenticated"
        body = error_body(str(code), message)
    response.data = body
    return response


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: invalid, not_found, "
                                           "sold_out, throttled...")
    message = serializers.CharField(help_text="Written for a person.")


# "fields" cannot be a class attribute: it would hide Serializer.fields.
ErrorDetailSerializer._declared_fields["fields"] = serializers.DictField(
    child=serializers.ListField(child=serializers.CharField()),
    help_text='Per-field messages for validation errors ("attendees.0.email"); empty otherwise.',
)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
