"""Pagination the schema can describe exactly: `page` is one positive integer (anything
else is a 400, not a silently different page)."""

import re
from datetime import datetime

from django.core import signing
from django.db.models import Q
from rest_framework import exceptions
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

_POSITIVE_INTEGER = re.compile(r"[1-9][0-9]{0,8}")


def single_query_value(request, name: str) -> str | None:
    """The one value of a query parameter; a repeated parameter is a 400."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise exceptions.ValidationError({name: ["Give this parameter once."]})
    return values[0]


class StrictPageNumberPagination(PageNumberPagination):
    def get_page_number(self, request, paginator):
        value = single_query_value(request, self.page_query_param)
        if value is None:
            return 1
        if not _POSITIVE_INTEGER.fullmatch(value):
            raise exceptions.ValidationError(
                {self.page_query_param: ["A whole number from 1 (e.g. page=2)."]})
        return int(value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 999999999}
                parameter["description"] = ("Page number, a whole number from 1; a page past "
                                            "the last is a 404.")
        return parameters


class SessionCursorPagination(BasePagination):
    """Keyset pagination for lists that change while they are read: the cursor is the last
    row's (starts_at, id), so a row inserted or removed before it never shifts the next
    page (no repeats, no gaps), and the id breaks ties between sessions starting together.
    The cursor is signed: a made-up or damaged one is a 400."""

    page_size = 25
    cursor_query_param = "cursor"
    ordering = ("starts_at", "pk")
    _salt = "api.sessions.cursor"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        value = single_query_value(request, self.cursor_query_param)
        queryset = queryset.order_by(*self.ordering)
        if value is not None:
            try:
                starts_at, pk = signing.loads(value, salt=self._salt)
                starts_at = datetime.fromisoformat(starts_at)
            except (signing.BadSignature, ValueError, TypeError) as error:
                raise exceptions.ValidationError({self.cursor_query_param: [
                    "Not a cursor this API gave out: use the `next` link as it is."]}) \
                    from error
            queryset = queryset.filter(Q(starts_at__gt=starts_at)
                                       | Q(starts_at=starts_at, pk__gt=pk))
        rows = list(queryset[:self.page_size + 1])
        self.has_next = len(rows) > self.page_size
        self.page = rows[:self.page_size]
        return self.page

    def _next_link(self):
        if not self.has_next:
            return None
        last = self.page[-1]
        cursor = signing.dumps([last.starts_at.isoformat(), last.pk], salt=self._salt)
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        return Response({"next": self._next_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {"type": "string", "format": "uri", "nullable": True,
                         "description": "The next page, or null on the last one."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [{
            "name": self.cursor_query_param, "required": False, "in": "query",
            "description": "Where the page starts: copy it from the previous page's `next` "
                           "link. Sessions come in start order, then id; a session added or "
                           "removed while you page never repeats or skips another.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
        }]
