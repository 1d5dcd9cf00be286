"""The client's address, as far as our own proxies vouch for it.

Behind N reverse proxies that we run (settings.TRUSTED_PROXY_COUNT, hops), each one
appends the address it saw to X-Forwarded-For. The client is therefore the N-th entry
from the right: whatever stands further left was written by the client itself and is
never trusted. With N = 0 (no proxy) the header is ignored and REMOTE_ADDR is the client.
A header with fewer than N entries, or an entry that is not an address, means the request
did not come through the proxies as configured: REMOTE_ADDR is used then (never a value the
client could choose).

Used by django-ratelimit (RATELIMIT_IP_META_KEY), django-axes (AXES_CLIENT_IP_CALLABLE),
DRF's throttles (NUM_PROXIES, the same rule) and every log line (ClientAddressFilter).
"""

import ipaddress
import logging
from contextvars import ContextVar

from django.conf import settings

client_ip_var: ContextVar[str] = ContextVar("client_ip", default="-")


def client_ip(request) -> str:
    remote_addr = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote_addr
    entries = [entry.strip() for entry in
               request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if len(entries) < hops:
        return remote_addr
    try:
        return str(ipaddress.ip_address(entries[-hops]))
    except ValueError:
        return remote_addr


class ClientAddressMiddleware:
    """Puts the client's address on the request and on every log line written for it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_ip = client_ip(request)
        token = client_ip_var.set(request.client_ip or "-")
        try:
            return self.get_response(request)
        finally:
            client_ip_var.reset(token)


class ClientAddressFilter(logging.Filter):
    def filter(self, record):
        if not hasattr(record, "client_ip"):
            request = getattr(record, "request", None)
            record.client_ip = (getattr(request, "client_ip", None)
                                or client_ip_var.get())
        return True
