"""Requests no view can serve, refused once for the whole site before any view runs:

* a NUL character anywhere a visitor controls (path, query string, header, cookie, form
  field or JSON value): PostgreSQL stores no NUL in text, so it would otherwise surface as
  a 500 from whichever query first met it;
* a JSON body nested deeper than any of our documents (Python's parser recurses: a few
  thousand brackets are a RecursionError, a 500);
* a query string longer than any of our URLs needs (the 414 gunicorn also gives for an
  over-long request line, so every server answers the same).

The answer is a 400 (414) in the API's error shape under /api/ and for JSON requests, the
site's own error page otherwise.
"""

import re

from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string

MAX_JSON_DEPTH = 32
MAX_QUERY_STRING_LENGTH = 2048
# Signed documents from a third party: stored as received (NULs replaced by the view),
# never refused for their content (Stripe would retry a refused event for days).
NUL_CHECK_EXEMPT_BODIES = ("/webhooks/stripe/",)

# A JSON "\u0000" escape: an odd number of backslashes before "u0000".
_JSON_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]")

NUL_MESSAGE = "The request contains a NUL character (\\0), which is never valid here."


class RefusedRequest(Exception):
    def __init__(self, message: str, *, field: str = "", status: int = 400,
                 code: str = "invalid"):
        super().__init__(message)
        self.message, self.field, self.status, self.code = message, field, status, code


def _has_nul(value) -> bool:
    return "\x00" in value


def json_depth(body: bytes) -> int:
    """How deeply the body's arrays and objects nest (strings ignored), without parsing."""
    brackets = _NOT_A_BRACKET.sub(b"", _JSON_STRING.sub(b'""', body))
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _check_query(request) -> None:
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING_LENGTH:
        raise RefusedRequest(
            f"The query string is longer than {MAX_QUERY_STRING_LENGTH} characters.",
            status=414, code="uri_too_long")
    if _has_nul(request.path_info):
        raise RefusedRequest(NUL_MESSAGE, field="path")
    for name, values in request.GET.lists():
        if _has_nul(name) or any(_has_nul(value) for value in values):
            raise RefusedRequest(NUL_MESSAGE, field=name.replace("\x00", "") or "query")


def _check_headers(request) -> None:
    for key, value in request.META.items():
        if (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")) \
                and isinstance(value, str) and _has_nul(value):
            header = key.removeprefix("HTTP_").replace("_", "-").title()
            raise RefusedRequest(NUL_MESSAGE, field=header)


def _check_body(request) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return
    content_type = request.META.get("CONTENT_TYPE", "")
    media = content_type.split(";", 1)[0].strip().lower()
    check_nul = not request.path_info.startswith(NUL_CHECK_EXEMPT_BODIES)
    if media in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if not check_nul:
            return
        try:
            fields = request.POST.lists()
        except MultiPartParserError as error:
            raise RefusedRequest("The form data could not be read.", field="body") from error
        for name, values in fields:
            if _has_nul(name) or any(_has_nul(value) for value in values):
                raise RefusedRequest(NUL_MESSAGE, field=name.replace("\x00", "") or "body")
        for name, files in request.FILES.lists():
            if any(_has_nul(upload.name or "") for upload in files):
                raise RefusedRequest(NUL_MESSAGE, field=name)
        return
    body = request.body
    if check_nul and (b"\x00" in body or (_is_json(content_type)
                                           and _JSON_NUL_ESCAPE.search(body))):
        raise RefusedRequest(NUL_MESSAGE, field="body")
    if (_is_json(content_type) or body[:1] in (b"[", b"{")) \
            and json_depth(body) > MAX_JSON_DEPTH:
        raise RefusedRequest(
            f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.", field="body")


def refusal_response(request, refused: RefusedRequest) -> HttpResponse:
    wants_json = (
        request.path_info.startswith("/api/")
        or _is_json(request.META.get("CONTENT_TYPE", ""))
        or "application/json" in request.META.get("HTTP_ACCEPT", "")
    )
    if wants_json:
        fields = {refused.field: [refused.message]} if refused.field else {}
        return JsonResponse({"error": {"code": refused.code, "message": refused.message,
                                       "fields": fields}}, status=refused.status)
    # No request context: its processors may query the database with the bad value.
    page = render_to_string("400.html", {"message": refused.message,
                                         "status": refused.status})
    return HttpResponse(page, status=refused.status)


class RequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            _check_query(request)
            _check_headers(request)
            _check_body(request)
        except RefusedRequest as refused:
            return refusal_response(request, refused)
        return self.get_response(request)

