"""URL converters for our public identifiers: anything else is a 404 before a query
(PostgreSQL refuses NUL bytes in text, so a raw <str:> would be a 500)."""

from django.urls.converters import StringConverter


class CodeConverter(StringConverter):
    """Booking references, certificate numbers and verification codes."""

    regex = r"[A-Za-z0-9_-]{1,64}"
