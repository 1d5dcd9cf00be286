"""Pagination the schema can describe exactly: `page` is one positive integer (anything
else is a 400, not a silently different page)."""

import re

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination

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
