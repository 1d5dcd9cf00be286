"""The image's HEALTHCHECK: GET /healthz on this container's web process (exit 0 when 200).

It sends a Host from ALLOWED_HOSTS (Django refuses any other) and X-Forwarded-Proto: https
as the proxy would; /healthz is exempt from the HTTPS redirect anyway.
"""

import os
import sys
import urllib.error
import urllib.request

port = os.environ.get("PORT", "8000")
hosts = [h.strip().lstrip(".") for h in os.environ.get("ALLOWED_HOSTS", "").split(",")]
host = next((h for h in hosts if h and h != "*"), "localhost")
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/healthz",
    headers={"Host": host, "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 (fixed URL)
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError) as error:
    print(f"healthz: {error}", file=sys.stderr)
    sys.exit(1)
