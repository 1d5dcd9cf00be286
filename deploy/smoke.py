# ruff: noqa: S603, S607, S108  (runs fixed local commands; /tmp means the containers' tmpfs)
"""make image-smoke: run the image as production does and check it over HTTPS.

Started by deploy/smoke.sh (which provides the Docker daemon and stops it afterwards).
On this machine, with host networking and loopback ports only:

  proxy (portal-proxy image, nginx, self-signed certificate made now with openssl)
    -> web x2 (portal image)  -> PostgreSQL (database portal_smoke), Redis (db SMOKE_REDIS_DB)
  worker and beat (portal image); the fake Stripe from this checkout's .venv, delivering
  its webhooks over HTTPS through the proxy.

Each step prints PASS or FAIL; the exit status is non-zero when any step failed. The
containers it started are removed at the end, whatever happened.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

import psycopg
import redis
import requests
import stripe
from requests.adapters import HTTPAdapter

BASE_DIR = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("IMAGE", "portal:latest")
PROXY_IMAGE = os.environ.get("PROXY_IMAGE", "portal-proxy:latest")
PG = os.environ.get("SMOKE_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("SMOKE_DATABASE", "portal_smoke")
REDIS_DB = int(os.environ.get("SMOKE_REDIS_DB", "9"))
LABEL = "portal-smoke"
HOLD_MINUTES = 1
HOLD_RELEASE_INTERVAL = 5
ADMIN = ("admin@example.com", "portal-demo-admin")  # made by seed_demo
# The admin's second factor (TOTP), activated by the smoke after seeding: staff sign in with
# a password and then a code from an authenticator app.
ADMIN_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105  # pragma: allowlist secret


def totp_now(secret: str) -> str:
    """RFC 6238 with an authenticator app's defaults (SHA-1, 30 s, 6 digits)."""
    import base64
    import hashlib
    import hmac
    import struct

    key = base64.b32decode(secret)
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"
WEBHOOK_SECRET = "whsec_smoke_" + uuid.uuid4().hex
CODE_RE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.M)

results: list[tuple[str, bool, str]] = []


def step(name):
    def run(func):
        started = time.monotonic()
        try:
            detail = func() or ""
            ok = True
        except Exception as error:  # a failed step is reported, the others still run
            ok, detail = False, f"{type(error).__name__}: {error}"
            if os.environ.get("SMOKE_VERBOSE"):
                traceback.print_exc()
        took = time.monotonic() - started
        results.append((name, ok, detail))
        suffix = f"  - {detail}" if detail else ""
        print(f"{'PASS' if ok else 'FAIL'}  {name} ({took:.1f} s){suffix}", flush=True)
        return ok
    return run


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout, what, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def docker(*args, check_rc=True, timeout=300) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check_rc and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}…: {proc.stderr.strip()[-800:]}")
    return proc.stdout


def logs(container) -> str:
    proc = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
    return proc.stdout + proc.stderr


def logged_text(container) -> str:
    """What a container printed, with each JSON log record replaced by its message: the
    worker's stdout (where the console email backend writes) reaches its log as JSON
    records of the `celery.redirected` logger, a whole email in one record."""
    lines = []
    for line in logs(container).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        lines.append(record.get("message", "") if isinstance(record, dict) else line)
    return "\n".join(lines)


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a chosen loopback address: two 'clients' the proxy tells apart."""

    def __init__(self, source, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class Smoke:
    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="portal-smoke-"))
        self.web_ports = [free_port(), free_port()]
        self.https_port, self.http_port, self.stripe_port = free_port(), free_port(), free_port()
        self.base = f"https://localhost:{self.https_port}"
        self.fake_stripe = None
        self.cert = self.tmp / "tls" / "fullchain.pem"
        self.stripe_base = f"http://127.0.0.1:{self.stripe_port}"
        self.env = {
            "DATABASE_URL": f"{PG}/{DB_NAME}",
            "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "SECRET_KEY": "smoke-" + uuid.uuid4().hex + uuid.uuid4().hex,
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": self.base,
            "SITE_URL": self.base,
            "TRUSTED_PROXY_COUNT": "1",
            "STRIPE_API_BASE": self.stripe_base,
            "STRIPE_SECRET_KEY": "sk_test_smoke",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_smoke",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "EMAIL_URL": "console://",
            "SECURE_HSTS_SECONDS": "0",
            "CACHE_KEY_PREFIX": "smoke",
            "BOOKING_HOLD_MINUTES": str(HOLD_MINUTES),
            "HOLD_RELEASE_INTERVAL_SECONDS": str(HOLD_RELEASE_INTERVAL),
            "WEB_CONCURRENCY": "2",
            "CELERY_CONCURRENCY": "2",
        }

    # --- infrastructure --------------------------------------------------------------
    def env_args(self, extra=None):
        args = []
        for key, value in {**self.env, **(extra or {})}.items():
            args += ["-e", f"{key}={value}"]
        return args

    def run_app(self, name, role, *, extra_env=None, detach=True, args=()):
        common = ["--network", "host", "--read-only", "--tmpfs", "/tmp",
                  "--tmpfs", "/var/lib/portal:uid=10001,gid=10001,mode=0700",
                  "--label", LABEL, *self.env_args(extra_env)]
        if detach:
            return docker("run", "-d", "--name", name, *common, IMAGE, role, *args)
        return docker("run", "--rm", "--name", name, *common, IMAGE, role, *args, timeout=600)

    def cleanup(self):
        ids = docker("ps", "-aq", "--filter", f"label={LABEL}", check_rc=False).split()
        if ids:
            docker("rm", "-f", *ids, check_rc=False)
        if self.fake_stripe is not None:
            self.fake_stripe.terminate()
            try:
                self.fake_stripe.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.fake_stripe.kill()

    def db(self):
        return psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True)

    def query(self, sql, *params):
        with self.db() as conn:
            return conn.execute(sql, params).fetchall()

    def session(self, source="127.0.0.1"):
        client = requests.Session()
        client.trust_env = False  # no proxy, and no CA bundle from the environment over ours
        client.verify = str(self.cert)
        adapter = SourceAddressAdapter(source)
        client.mount("https://", adapter)
        client.mount("http://", adapter)
        client.headers["Origin"] = self.base
        client.headers["Referer"] = self.base + "/"
        return client

    def csrf_post(self, client, path, data=None, **kwargs):
        if "csrftoken" not in client.cookies:
            client.get(self.base + "/accounts/login/code/", allow_redirects=False)
        headers = {"X-CSRFToken": client.cookies.get("csrftoken", ""), **kwargs.pop("headers", {})}
        data = {"csrfmiddlewaretoken": client.cookies.get("csrftoken", ""), **(data or {})}
        return client.post(self.base + path, data=data, headers=headers,
                           allow_redirects=False, timeout=30, **kwargs)

    # --- steps ---------------------------------------------------------------------------
    def prepare(self):
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        redis.Redis.from_url(self.env["REDIS_URL"]).flushdb()
        (self.tmp / "tls").mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(self.tmp / "tls" / "privkey.pem"), "-out", str(self.cert)],
            check=True, capture_output=True)
        os.chmod(self.tmp / "tls" / "privkey.pem", 0o644)  # read by nginx in the container
        for image in (IMAGE, PROXY_IMAGE):
            docker("image", "inspect", image)
        return f"database {DB_NAME}, redis db {REDIS_DB}, certificate for localhost"

    def compose_is_valid(self):
        env = {**os.environ, "POSTGRES_PASSWORD": "x", "SECRET_KEY": "x", "PORTAL_DOMAIN": "x",
               "STRIPE_SECRET_KEY": "x", "STRIPE_PUBLISHABLE_KEY": "x",
               "STRIPE_WEBHOOK_SECRET": "x", "PORTAL_ENV_FILE": "deploy/demo.env"}
        for extra in ([], ["--profile", "demo"]):
            proc = subprocess.run(["docker-compose", *extra, "config", "-q"], cwd=BASE_DIR,
                                  env=env, capture_output=True, text=True)
            check(proc.returncode == 0, f"docker-compose {extra} config: {proc.stderr}")
        return "compose.yaml and its demo profile validate"

    def migrate_and_seed(self):
        self.run_app("smoke-migrate", "migrate", detach=False)
        self.run_app("smoke-seed", "manage", detach=False,
                     args=("seed_demo", "--allow-production"))
        self.run_app("smoke-totp", "manage", detach=False, args=(
            "shell", "-c",
            "from allauth.mfa.totp.internal.auth import TOTP; "
            "from apps.users.models import User; "
            f"TOTP.activate(User.objects.get(email={ADMIN[0]!r}), {ADMIN_TOTP_SECRET!r})"))
        sessions = self.query("SELECT count(*) FROM course_sessions_coursesession")[0][0]
        check(sessions > 0, "seed_demo made no sessions")
        return f"migrate (one-shot container) then seed_demo: {sessions} sessions"

    def start_fake_stripe(self):
        env = {**os.environ, "STRIPE_API_BASE": self.stripe_base,
               "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "SSL_CERT_FILE": str(self.cert)}
        for key in ("DATABASE_URL", "REDIS_URL", "TESTING"):
            env.pop(key, None)
        self.fake_stripe = subprocess.Popen(
            [sys.executable, "manage.py", "fake_stripe", "--port", str(self.stripe_port),
             "--webhook-url", f"{self.base}/webhooks/stripe/"],
            cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening():
            try:
                with socket.create_connection(("127.0.0.1", self.stripe_port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_until(listening, timeout=30, what="the fake Stripe")
        return f"{self.stripe_base}, webhooks to {self.base}/webhooks/stripe/ (HTTPS, via proxy)"

    def start_services(self):
        for n, port in enumerate(self.web_ports, start=1):
            self.run_app(f"smoke-web{n}", "web", extra_env={"PORT": str(port)})
        self.run_app("smoke-worker", "worker")
        self.run_app("smoke-beat", "beat")
        docker("run", "-d", "--name", "smoke-proxy", "--network", "host", "--label", LABEL,
               "--tmpfs", "/tmp", "-v", f"{self.tmp / 'tls'}:/etc/nginx/tls:ro",
               "-e", "PROXY_UPSTREAMS=" + " ".join(f"127.0.0.1:{p}" for p in self.web_ports),
               "-e", f"PROXY_HTTPS_LISTEN=127.0.0.1:{self.https_port}",
               "-e", f"PROXY_HTTP_LISTEN=127.0.0.1:{self.http_port}",
               PROXY_IMAGE)

        def healthy():
            states = [docker("inspect", "--format", "{{.State.Health.Status}}",
                             f"smoke-web{n}").strip() for n in (1, 2)]
            check("unhealthy" not in states, f"web health: {states}")
            return all(state == "healthy" for state in states)
        wait_until(healthy, timeout=120, what="both web containers' HEALTHCHECK", interval=2)
        for name in ("smoke-worker", "smoke-beat", "smoke-proxy"):
            running = docker("inspect", "--format", "{{.State.Running}}", name).strip()
            check(running == "true", f"{name} is not running")
        wait_until(lambda: requests.get(self.base + "/healthz", verify=str(self.cert),
                                        timeout=5).status_code == 200,
                   timeout=30, what="/healthz through the proxy")
        user = docker("exec", "smoke-web1", "id", "-un").strip()
        check(user == "portal", f"web runs as {user}")
        return f"web x2 healthy (ports {self.web_ports}), worker, beat, proxy; user {user}"

    def public_pages(self):
        client = self.session()
        session_id = self.bookable_session()
        code = self.query("SELECT verification_code FROM certificates_certificate "
                          "WHERE revoked_at IS NULL LIMIT 1")
        pages = ["/", f"/sessions/{session_id}/", f"/sessions/{session_id}/book/",
                 "/accounts/login/code/", "/accounts/login/", "/api/docs/", "/api/schema/",
                 "/api/sessions/", f"/api/sessions/{session_id}/", "/healthz"]
        if code:
            pages.append(f"/certificates/verify/{code[0][0]}/")
        home = client.get(self.base + "/", timeout=30)
        pages += sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', home.text)))
        failed = []
        for page in pages:
            response = client.get(self.base + page, timeout=30, allow_redirects=False)
            if response.status_code != 200:
                failed.append(f"{page} {response.status_code}")
        check(not failed, f"not 200: {failed}")
        check(any("/static/" in p and re.search(r"\.[0-9a-f]{12}\.", p) for p in pages),
              "static files are not served from the manifest (hashed names)")
        plain = requests.get(f"http://127.0.0.1:{self.http_port}/", allow_redirects=False,
                             timeout=10)
        check(plain.status_code == 301 and plain.headers["Location"].startswith("https://"),
              f"plain HTTP is not redirected: {plain.status_code}")
        hook = requests.post(f"http://127.0.0.1:{self.http_port}/webhooks/stripe/", data="{}",
                             allow_redirects=False, timeout=10)
        check(hook.status_code == 400, f"plain-HTTP webhook answered {hook.status_code}, "
                                       "not the view's 400 (a redirect would lose the event)")
        return f"{len(pages)} pages and static files 200 over HTTPS; http:// redirects, " \
               "except a webhook POST (reaches the view)"

    def bookable_session(self):
        if not hasattr(self, "_session_id"):
            self._session_id = self.query(
                "SELECT id FROM course_sessions_coursesession WHERE status = 'scheduled' "
                "AND starts_at > now() + interval '3 days' AND capacity - seats_taken >= 3 "
                "AND price > 0 ORDER BY starts_at LIMIT 1")[0][0]
        return self._session_id

    def book(self, client, email):
        session_id = self.bookable_session()
        client.get(f"{self.base}/sessions/{session_id}/book/", timeout=30)
        response = self.csrf_post(client, f"/sessions/{session_id}/book/", {
            "seats": "1", "first_name": "Smoke", "last_name": "Test", "email": email,
            "attendee_1_name": "Smoke Test", "attendee_1_email": email,
            "submission_token": str(uuid.uuid4()), "accept_terms": "on",
        })
        check(response.status_code == 302, f"booking form answered {response.status_code}")
        reference = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        return reference

    def admin_login(self):
        """Staff sign in as staff do: /admin/ sends them to the password form, then the
        second factor (TOTP)."""
        client = self.session()
        sent = client.get(self.base + "/admin/login/", timeout=30, allow_redirects=False)
        check(sent.status_code == 302 and "/accounts/login/" in sent.headers["Location"],
              f"/admin/login/ answered {sent.status_code}")
        client.get(self.base + "/accounts/login/", timeout=30)
        password = self.csrf_post(client, "/accounts/login/?next=/admin/",
                                  {"login": ADMIN[0], "password": ADMIN[1]})
        check(password.status_code == 302 and "/accounts/2fa/authenticate/" in
              password.headers.get("Location", ""),
              f"password step answered {password.status_code} "
              f"{password.headers.get('Location', '')}")
        response = self.csrf_post(client, "/accounts/2fa/authenticate/",
                                  {"code": totp_now(ADMIN_TOTP_SECRET)})
        check(response.status_code == 302 and response.headers["Location"] == "/admin/",
              f"second factor answered {response.status_code} "
              f"{response.headers.get('Location', '')}")
        index = client.get(self.base + "/admin/", timeout=30, allow_redirects=False)
        check(index.status_code == 200 and "logout" in index.text.lower(),
              f"admin index: {index.status_code}")
        self.admin = client
        return f"{ADMIN[0]} signed in (password, then TOTP), /admin/ 200"

    def hold_started(self):
        client = self.session()
        self.held_reference = self.book(client, f"hold-{uuid.uuid4().hex[:8]}@example.com")
        status, expires = self.query("SELECT status, hold_expires_at FROM bookings_booking "
                                     "WHERE reference = %s", self.held_reference)[0]
        check(status == "pending", status)
        self.hold_expires_at = expires
        return f"booking {self.held_reference} holds a seat until {expires:%H:%M:%S}"

    def paid_booking(self):
        client = self.session()
        self.buyer_email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
        reference = self.book(client, self.buyer_email)
        self.paid_reference = reference
        fake = stripe.StripeClient("sk_test_smoke", base_addresses={"api": self.stripe_base},
                                   max_network_retries=0)
        # What the Payment Element hands the page for the card: a ConfirmationToken (made
        # here with Stripe's test helper, which the fake implements).
        method = fake.v1.payment_methods.create(params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034,
                     "cvc": "123"}})
        token = fake.v1.test_helpers.confirmation_tokens.create(
            params={"payment_method": method.id})
        paid = self.csrf_post(client, f"/bookings/{reference}/pay/",
                              {"confirmation_token": token.id})
        check(paid.status_code == 200 and paid.json()["status"] == "succeeded",
              f"pay: {paid.status_code} {paid.text[:200]}")
        status = self.query("SELECT status FROM bookings_booking WHERE reference = %s",
                            reference)[0][0]
        check(status == "paid", f"booking is {status}")
        self.intent_id = self.query(
            "SELECT p.stripe_payment_intent_id FROM payments_payment p JOIN bookings_booking b "
            "ON b.id = p.booking_id WHERE b.reference = %s AND p.status = 'succeeded'",
            reference)[0][0]
        return f"booking {reference} paid with 4242… ({self.intent_id})"

    def webhook_processed(self):
        def processed():
            rows = self.query("SELECT status, attempts FROM payments_stripeevent WHERE "
                              "type = 'payment_intent.succeeded' AND object_id = %s",
                              self.intent_id)
            return rows if rows and rows[0][0] == "processed" else None
        rows = wait_until(processed, timeout=60, what="payment_intent.succeeded processed")
        proxy_log = logs("smoke-proxy")
        check(re.search(r'"POST /webhooks/stripe/ HTTP/[0-9.]+" 200', proxy_log),
              "no 200 webhook POST in the proxy's log")
        worker_log = logs("smoke-worker")
        # Events are processed by the drain of their slot (or, on a retry, their own task).
        check(re.search(r"(drain_stripe_events_task|process_stripe_event_task)\[[^\]]+\] "
                        r"succeeded", worker_log),
              "the worker container ran neither drain_stripe_events_task nor "
              "process_stripe_event_task")
        return f"signed event delivered over HTTPS via nginx, processed by the worker " \
               f"(attempts {rows[0][1]})"

    def customer_session_across_replicas(self):
        client = self.session()
        request = self.csrf_post(client, "/accounts/login/code/", {"email": self.buyer_email})
        check(request.status_code == 302, f"code request: {request.status_code}")
        confirm_path = request.headers["Location"]

        def code():
            found = CODE_RE.findall("\n".join(
                logged_text(name) for name in ("smoke-web1", "smoke-web2", "smoke-worker")))
            return found[-1] if found else None
        sign_in_code = wait_until(code, timeout=30, what="the emailed sign-in code")
        confirmed = self.csrf_post(client, confirm_path, {"code": sign_in_code},
                                   headers={"X-Request-ID": "smoke-session-signin"})
        check(confirmed.status_code == 302, f"code confirm: {confirmed.status_code}")
        for n in range(6):
            page = client.get(self.base + "/portal/", timeout=30, allow_redirects=False,
                              headers={"X-Request-ID": f"smoke-session-{n:04d}"})
            check(page.status_code == 200 and self.paid_reference in page.text,
                  f"portal request {n}: {page.status_code} (signed out?)")
        upstreams = {}
        for line in logs("smoke-proxy").splitlines():
            match = re.search(r"upstream=(\S+) request_id=(smoke-session-\S+)", line)
            if match:
                upstreams[match.group(2)] = match.group(1)
        began = upstreams.get("smoke-session-signin")
        continued = {v for k, v in upstreams.items() if k != "smoke-session-signin"}
        check(began and len(continued) == 2,
              f"expected the portal pages from both replicas: {upstreams}")
        self.customer = client
        return f"signed in on {began}, portal served by {sorted(continued)}"

    def receipt_pdf(self):
        response = self.customer.get(
            f"{self.base}/portal/bookings/{self.paid_reference}/receipt.pdf", timeout=60)
        check(response.status_code == 200 and response.content.startswith(b"%PDF"),
              f"receipt: {response.status_code} {response.headers.get('Content-Type')}")
        return f"receipt.pdf, {len(response.content)} bytes, made by a web container"

    def certificate_pdf(self):
        rows = self.query("SELECT number FROM certificates_certificate "
                          "WHERE revoked_at IS NULL ORDER BY id LIMIT 1")
        check(rows, "seed_demo made no certificate")
        response = self.admin.get(f"{self.base}/portal/certificates/{rows[0][0]}.pdf",
                                  timeout=60)
        check(response.status_code == 200 and response.content.startswith(b"%PDF"),
              f"certificate: {response.status_code} {response.headers.get('Content-Type')}")
        return f"certificate {rows[0][0]}.pdf, {len(response.content)} bytes (staff)"

    def hold_released_by_beat(self):
        def expired():
            rows = self.query("SELECT status, updated_at FROM bookings_booking "
                              "WHERE reference = %s", self.held_reference)
            return rows[0] if rows[0][0] == "expired" else None
        status, released_at = wait_until(
            expired, timeout=HOLD_MINUTES * 60 + 45, what="beat to release the lapsed hold")
        late = (released_at - self.hold_expires_at).total_seconds()
        check(late >= 0, f"released {-late:.0f} s before the hold lapsed")
        check(late <= HOLD_RELEASE_INTERVAL + 15, f"released {late:.0f} s after it lapsed")
        beat_log = logs("smoke-beat")
        check("release_expired_holds_task" in beat_log, "beat did not send the task")
        return f"expired {late:.1f} s after its hold lapsed (beat every " \
               f"{HOLD_RELEASE_INTERVAL} s, run by the worker)"

    def lockout_per_client(self):
        attacker, colleague = self.session("127.0.0.2"), self.session("127.0.0.3")
        for attempt in range(5):
            attacker.get(self.base + "/accounts/login/", timeout=30)
            self.csrf_post(attacker, "/accounts/login/?next=/admin/",
                           {"login": f"nobody{attempt}@example.com", "password": "wrong"},
                           headers={"X-Forwarded-For": f"192.0.2.{attempt}"})  # forged
        locked = self.csrf_post(attacker, "/accounts/login/?next=/admin/",
                                {"login": ADMIN[0], "password": ADMIN[1]},
                                headers={"X-Forwarded-For": "192.0.2.200"})
        check(locked.status_code == 429, f"attacker not locked out: {locked.status_code}")
        colleague.get(self.base + "/accounts/login/", timeout=30)
        fine = self.csrf_post(colleague, "/accounts/login/?next=/admin/",
                              {"login": ADMIN[0], "password": ADMIN[1]})
        check(fine.status_code == 302 and "/accounts/2fa/authenticate/" in
              fine.headers.get("Location", ""), f"colleague refused: {fine.status_code}")
        rows = self.query("SELECT DISTINCT ip_address FROM axes_accessattempt")
        check([str(r[0]) for r in rows] == ["127.0.0.2"], f"axes counted {rows}")
        return "127.0.0.2 (forging X-Forwarded-For) locked out with 429; 127.0.0.3 signs in"


def main() -> int:
    smoke = Smoke()
    started = time.monotonic()
    print(f"image-smoke: {IMAGE} + {PROXY_IMAGE} at {smoke.base}", flush=True)
    try:
        steps = [
            ("database, Redis and a self-signed certificate", smoke.prepare, True),
            ("compose files validate", smoke.compose_is_valid, False),
            ("migrations (one-shot) and demo data", smoke.migrate_and_seed, True),
            ("fake Stripe", smoke.start_fake_stripe, True),
            ("web x2, worker, beat, proxy up and healthy", smoke.start_services, True),
            ("a pending booking holds a seat (1 minute)", smoke.hold_started, False),
            ("every public page 200 over HTTPS through the proxy", smoke.public_pages, False),
            ("admin login", smoke.admin_login, False),
            ("booking paid with a test card through the fake Stripe", smoke.paid_booking,
             False),
            ("its webhook delivered through the proxy, processed by the worker",
             smoke.webhook_processed, False),
            ("customer session begun on one web replica, continued on the other",
             smoke.customer_session_across_replicas, False),
            ("receipt PDF made in the container", smoke.receipt_pdf, False),
            ("certificate PDF made in the container", smoke.certificate_pdf, False),
            ("two clients behind the proxy: one locked out, the other not",
             smoke.lockout_per_client, False),
            ("beat releases the lapsed hold on time", smoke.hold_released_by_beat, False),
        ]
        for name, func, essential in steps:
            if not step(name)(func) and essential:
                print("cannot go on without that step", flush=True)
                break
    finally:
        if any(not ok for _, ok, _ in results):
            for container in ("smoke-web1", "smoke-worker", "smoke-beat", "smoke-proxy"):
                print(f"--- last lines of {container}:\n" + "\n".join(
                    line[:300] for line in logs(container).splitlines()[-15:]), flush=True)
        smoke.cleanup()
    failed = [name for name, ok, _ in results if not ok]
    print(f"image-smoke: {len(results) - len(failed)} passed, {len(failed)} failed "
          f"in {time.monotonic() - started:.0f} s", flush=True)
    print(json.dumps({"passed": not failed, "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
