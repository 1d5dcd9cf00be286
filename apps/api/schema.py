"""OpenAPI post-processing: what every operation can answer, whatever its view does."""

from apps.core.request_guard import MAX_JSON_DEPTH, MAX_QUERY_STRING_LENGTH

ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def document_site_wide_errors(result, generator, request, public):
    """Every request passes the site's request guard first (apps/core/request_guard.py): a
    NUL character anywhere or a JSON body nested too deeply is a 400, an over-long query
    string a 414, on every operation."""
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", _error(
                "The request is not valid: a NUL character in the path, a query parameter, "
                f"a header or the body, or JSON nested deeper than {MAX_JSON_DEPTH} levels."))
            responses.setdefault("414", _error(
                f"The query string is longer than {MAX_QUERY_STRING_LENGTH} characters."))
    return result
