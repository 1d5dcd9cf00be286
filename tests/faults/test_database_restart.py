"""PostgreSQL restarted while the site is under load.

Caused for real, without touching the shared server: a private PostgreSQL cluster
(initdb + pg_ctl, on a free port, in a temporary directory), the real app under gunicorn
(2 sync workers; a connection per request, then persistent connections with health
checks) migrated onto it, threads
browsing the catalogue and booking seats, and the cluster stopped (`pg_ctl stop -m fast`,
which also ends the open connections), left down for 2 s and started again.

What the site must do: answer every request within a bound (never hang), answer those it
cannot serve with the 503 page, serve again as soon as the database is back without
gunicorn being restarted, and leave no booking half-written.
"""

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests

from apps.bookings.models import SEAT_HOLDING_STATUSES, Attendee, Booking
from apps.sessions.models import CourseSession
from tests.conftest import BASE_DIR, free_port, wait_for_port
from tests.faults.processes import child_pids

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 2.0
REQUEST_BOUND_SECONDS = 10.0  # connect_timeout (5 s) plus the page itself
CLIENT_TIMEOUT_SECONDS = 30.0  # past this a request counts as hung (gunicorn's own timeout)
THREADS = 4


def postgres_bindir() -> Path:
    explicit = os.environ.get("PG_BINDIR")
    candidates = [Path(explicit)] if explicit else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    for candidate in reversed(candidates):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    pytest.fail("This test starts a private PostgreSQL cluster and needs the server "
                "binaries (apt-get install postgresql, or set PG_BINDIR).")


class PrivatePostgres:
    """A throw-away cluster. As root, the server runs as the `postgres` user (initdb
    refuses root); otherwise as the current user."""

    def __init__(self):
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run([*self.as_user, *args], capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}\n{self.server_log()}")

    def server_log(self) -> str:
        try:
            return "server log (tail):\n" + "\n".join(
                self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def init(self) -> None:
        self.run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                 "-A", "trust", "--no-sync", "--locale=C", "-E", "UTF8")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                 "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                 "-t", "30", "stop")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres():
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE portal")
        yield cluster
    finally:
        cluster.destroy()


def app_env(database_url: str, conn_max_age: int) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": str(conn_max_age),
        "DEBUG": "0", "TESTING": "1", "SECRET_KEY": "fault-test-" + uuid.uuid4().hex,
        "CACHE_KEY_PREFIX": f"pg-restart-{os.getpid()}",
        "CELERY_TASK_ALWAYS_EAGER": "1", "EMAIL_URL": "locmem://",
        "BOOKING_RATE_LIMIT": "100000/h", "BOOKING_VALIDATE_RATE_LIMIT": "100000/h",
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}"
    return result.stdout


# 0: a connection per request (the default); 60: persistent connections, each one dead
# after the restart and found so by the health check before it is used.
@pytest.fixture(params=[0, 60], ids=["conn-per-request", "persistent-conn"])
def site_on_private_postgres(request, private_postgres, tmp_path):
    """gunicorn with 2 workers serving the migrated app from the private cluster."""
    env = app_env(private_postgres.url("portal"), request.param)
    manage(env, "migrate", "--noinput")
    session_id = int(manage(env, "shell", "-c", (
        "from tests.factories import SessionFactory; "
        "print(SessionFactory(capacity=500, price=4000).pk)")).strip().splitlines()[-1])
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", "2", "--timeout", str(int(CLIENT_TIMEOUT_SECONDS)),
             "--graceful-timeout", "5"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        wait_for_port(port, process=gunicorn, timeout=60)
        yield Site(f"http://127.0.0.1:{port}", session_id, gunicorn, log_path, private_postgres)
    finally:
        if gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait(timeout=5)


@dataclass
class Site:
    base: str
    session_id: int
    gunicorn: subprocess.Popen
    log_path: Path
    cluster: PrivatePostgres

    def log_tail(self) -> str:
        return "gunicorn log (tail):\n" + "\n".join(
            self.log_path.read_text(errors="replace").splitlines()[-30:])


@dataclass
class Outcome:
    kind: str
    started: float
    finished: float
    status: int | None  # None: no HTTP answer at all
    error: str = ""
    unavailable_page: bool = False
    retry_after: str = ""

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def ok(self) -> bool:
        return self.status in (200, 302)


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Load:
    """Threads that browse and book until told to stop, recording every request."""

    def __init__(self, site: Site):
        self.site = site
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True)
                        for n in range(THREADS)]

    def request(self, http, kind, method, path, **kwargs) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = http.request(method, self.site.base + path, allow_redirects=False,
                                    timeout=(5, CLIENT_TIMEOUT_SECONDS), **kwargs)
        except requests.RequestException as error:
            outcome, response = Outcome(kind, started, time.monotonic(), None,
                                        type(error).__name__), None
        else:
            outcome = Outcome(kind, started, time.monotonic(), response.status_code,
                              unavailable_page="briefly unavailable" in response.text,
                              retry_after=response.headers.get("Retry-After", ""))
        with self.lock:
            self.outcomes.append(outcome)
        return response

    def run(self, n: int) -> None:
        book = f"/sessions/{self.site.session_id}/book/"
        with requests.Session() as http:
            while not self.stopping.is_set():
                self.request(http, "catalogue", "GET", "/")
                self.request(http, "session", "GET", f"/sessions/{self.site.session_id}/")
                page = self.request(http, "booking form", "GET", book)
                token = CSRF.search(page.text) if page is not None and page.ok else None
                if token is None:
                    continue
                email = f"load{n}.{uuid.uuid4().hex[:8]}@example.com"
                self.request(http, "booking", "POST", book, headers={"Referer": self.site.base},
                             data={"csrfmiddlewaretoken": token.group(1), "seats": "1",
                                   "first_name": "Load", "last_name": f"Tester{n}",
                                   "email": email, "submission_token": str(uuid.uuid4()),
                                   "attendee_1_name": f"Load Tester{n}",
                                   "attendee_1_email": email, "accept_terms": "on"})

    def snapshot(self) -> list[Outcome]:
        with self.lock:
            return list(self.outcomes)

    def wait_until(self, predicate, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.snapshot()):
            if time.monotonic() > deadline:
                pytest.fail(f"Timed out waiting for {what}.\n{summary(self.snapshot())}\n"
                            f"{self.site.log_tail()}")
            time.sleep(0.1)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=CLIENT_TIMEOUT_SECONDS + 10)


def summary(outcomes: list[Outcome]) -> str:
    counts: dict[tuple, int] = {}
    for outcome in outcomes:
        key = (outcome.kind, outcome.status, outcome.error)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{kind} {status or error}: {count}"
                     for (kind, status, error), count in sorted(counts.items(), key=str))


def successes_since(outcomes: list[Outcome], since: float, kind: str) -> int:
    return sum(1 for o in outcomes if o.kind == kind and o.started >= since and o.ok)


def booking_rows(database_url: str) -> tuple[list, list]:
    """(session id, seats_taken, seats held by bookings) and bookings whose attendees do
    not match their seats, read straight from the private database."""
    holding = [str(status) for status in SEAT_HOLDING_STATUSES]
    sessions, bookings, attendees = (CourseSession._meta.db_table, Booking._meta.db_table,
                                     Attendee._meta.db_table)
    with psycopg.connect(database_url) as db:
        seats = db.execute(
            f'SELECT s.id, s.seats_taken, COALESCE(SUM(b.seats) FILTER '  # noqa: S608
            f'(WHERE b.status = ANY(%s)), 0) FROM "{sessions}" s LEFT JOIN "{bookings}" b '
            f'ON b.session_id = s.id GROUP BY s.id, s.seats_taken', [holding]).fetchall()
        half_written = db.execute(
            f'SELECT b.id, b.seats, COUNT(a.id) FROM "{bookings}" b LEFT JOIN '  # noqa: S608
            f'"{attendees}" a ON a.booking_id = b.id GROUP BY b.id, b.seats '
            f'HAVING COUNT(a.id) <> b.seats').fetchall()
        count = db.execute(f'SELECT COUNT(*) FROM "{bookings}"').fetchone()[0]  # noqa: S608
    return seats, half_written, count


def test_site_survives_a_postgresql_restart_under_load(site_on_private_postgres):
    site = site_on_private_postgres
    deadline = time.monotonic() + 30
    while len(child_pids(site.gunicorn.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers_before = child_pids(site.gunicorn.pid)
    assert len(workers_before) == 2, site.log_tail()
    for _ in range(6):  # warm both workers up (URLconf, templates) before timing anything
        for path in ("/", f"/sessions/{site.session_id}/book/"):
            assert requests.get(site.base + path, timeout=60).status_code == 200

    with Load(site) as load:
        load.wait_until(lambda seen: successes_since(seen, 0, "booking") >= 8,
                        "bookings to go through before the fault")
        stop_began = time.monotonic()
        site.cluster.stop("fast")
        stopped = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        site.cluster.start()
        back = time.monotonic()
        load.wait_until(lambda seen: all(successes_since(seen, back, kind) >= 5 for kind in
                                         ("catalogue", "session", "booking form", "booking")),
                        "pages and bookings to succeed again after the restart")
    outcomes = load.snapshot()
    report = summary(outcomes)

    # Every request got an HTTP answer, within the bound: nothing hung.
    unanswered = [o for o in outcomes if o.status is None]
    assert not unanswered, f"requests without an answer: {unanswered[:5]}\n{report}"
    slowest = max(outcomes, key=lambda o: o.seconds)
    assert slowest.seconds < REQUEST_BOUND_SECONDS, f"slowest: {slowest}\n{report}"

    # Before the fault everything worked; during it the answers were the 503 page.
    assert all(o.ok for o in outcomes if o.finished < stop_began), report
    failed = [o for o in outcomes if not o.ok]
    assert failed, f"the outage was not seen by any request: {report}"
    assert all(o.status == 503 and o.unavailable_page and o.retry_after == "5"
               for o in failed), f"{[o for o in failed if o.status != 503][:5]}\n{report}"
    assert all(o.finished >= stop_began and o.started <= back for o in failed), report

    # Once pg_ctl said the server was up, every request succeeded, on the same workers.
    after = [o for o in outcomes if o.started >= back]
    assert after and all(o.ok for o in after), report
    assert site.gunicorn.poll() is None
    assert child_pids(site.gunicorn.pid) == workers_before, site.log_tail()

    # No booking half-written: the seat counter matches the bookings holding seats, every
    # booking has its attendees, and every booking the customer was told about exists.
    seats, half_written, bookings = booking_rows(site.cluster.url("portal"))
    assert [(sid, taken) for sid, taken, held in seats if taken != held] == [], seats
    assert half_written == []
    confirmed = sum(1 for o in outcomes if o.kind == "booking" and o.status == 302)
    assert bookings >= confirmed

    recovered = min(o.finished for o in outcomes if o.started >= back and o.ok) - back
    print(f"\nobserved: {len(outcomes)} requests ({report}); pg stop took "
          f"{stopped - stop_began:.2f}s, down {back - stopped:.2f}s; {len(failed)} answered "
          f"503 (slowest {max(o.seconds for o in failed):.2f}s); slowest overall "
          f"{slowest.seconds:.2f}s ({slowest.kind} {slowest.status}); first success "
          f"{recovered:.2f}s after start; bookings {bookings} (302 answers {confirmed}); "
          f"seats_taken {[taken for _, taken, _ in seats]}; gunicorn workers unchanged")
