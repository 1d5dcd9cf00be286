"""What every benchmark shares: a production-like deployment on this machine and a load
generator that is not the server.

Deployment: gunicorn (DEBUG=0, persistent DB connections), PostgreSQL and Redis on
loopback, and where a benchmark needs them a Celery worker on its own Redis broker DB and
the local fake Stripe (localstripe, `manage.py fake_stripe`). Each benchmark has its own
database (`portal_bench_*`) and Redis DBs 5 (cache) and 4 (broker) unless BENCH_REDIS_URL
/ BENCH_BROKER_URL say otherwise; the cache DB is flushed at the start of a run, nothing
else is.

Load: asyncio + aiohttp in the benchmark's own process (gunicorn runs in other processes),
a fixed number of requests at a fixed concurrency, recording each request's latency.
"""

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CORES = os.cpu_count()

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bench_env(db_name: str, **extra) -> dict:
    """Environment of the deployment under test (and of this process's Django)."""
    cache = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}",
        "REDIS_URL": cache,
        "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/4"),
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",  # plain HTTP on loopback: cookies cannot be Secure-only
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "DB_CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "BOOKING_RATE_LIMIT": "1000000/m",
        "BOOKING_VALIDATE_RATE_LIMIT": "1000000/m",
        "PAYMENT_RATE_LIMIT_PER_CLIENT": "1000000/m",  # one load client, many customers
        "EMAIL_URL": "dummy://",
        "STRIPE_API_BASE": "http://127.0.0.1:8421",
        "SITE_URL": "http://127.0.0.1",
        **extra,
    }


def prepare_database(env: dict, *, drop: bool = False) -> None:
    """Create the bench database if needed, migrate it, collect static files."""
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    if drop:
        psql(f"DROP DATABASE IF EXISTS {name}")
    psql(f"CREATE DATABASE {name}", check=False)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    if not (ROOT / "staticfiles" / "staticfiles.json").exists():  # ~30 s: compresses
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,
                       env=env, check=True)


def psql(sql: str, *, database: str = "postgres", check: bool = True) -> str:
    result = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database,
                             "-qAtc", sql], capture_output=True, text=True)
    if check and result.returncode:
        raise SystemExit(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def setup_django(env: dict) -> None:
    import redis

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on port {port} after {timeout:.0f}s") from None
            time.sleep(0.1)


def wait_http(url: str, *, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within {timeout:.0f}s") from None
            time.sleep(0.1)


# ---- server CPU and database transactions ------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A backend reports its transaction counts to pg_stat_database at most this long after it
# goes idle (PostgreSQL 15: PGSTAT_IDLE_INTERVAL, 10 s): wait this long before reading them.
PG_STATS_DELAY = 11.0


def cpu_ms(pid: int) -> float:
    """User + system CPU time the process has used so far (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICKS  # utime, stime


def process_tree(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class ServerMeter:
    """CPU time of the deployment's processes, by role, and the committed transactions of
    the benchmark's database, between `start()` and `stop()`.

    Roles: `web` (gunicorn master and workers), `postgres` (the backends connected to the
    benchmark's database: other databases on this shared machine are not counted, nor are
    PostgreSQL's own background writers), `celery` (worker and children), when given.
    Transactions: `xact_commit` of pg_stat_database, read PG_STATS_DELAY after the load
    (backends report late) through a connection of its own, opened and closed around each
    read so that it adds nothing; the benchmark's own Django connection must be closed
    before `start()` and left unused until `stop()` returns."""

    def __init__(self, database: str, *, web: int | None = None, celery: int | None = None):
        self.database = database
        self.roots = {name: pid for name, pid in (("web", web), ("celery", celery)) if pid}

    # self.database is the benchmark's own constant database name, not input (S608).
    def _postgres_pids(self) -> list[int]:
        where = f"datname = '{self.database}' AND pid <> pg_backend_pid()"
        rows = psql(f"SELECT pid FROM pg_stat_activity WHERE {where}")  # noqa: S608
        return [int(pid) for pid in rows.split()] if rows else []

    def _xacts(self) -> int:
        counts = "xact_commit + xact_rollback"
        return int(psql(f"SELECT {counts} FROM pg_stat_database "  # noqa: S608
                        f"WHERE datname = '{self.database}'"))

    def _snapshot(self) -> dict:
        cpu = {name: {pid: cpu_ms(pid) for pid in process_tree(root)}
               for name, root in self.roots.items()}
        cpu["postgres"] = {pid: cpu_ms(pid) for pid in self._postgres_pids()}
        return cpu

    def start(self, *, settle: bool = True) -> None:
        if settle:
            time.sleep(PG_STATS_DELAY)
        self.xacts_before = self._xacts()
        self.before = self._snapshot()

    def stop(self) -> None:
        after = self._snapshot()
        time.sleep(PG_STATS_DELAY)
        # Each psql call is one transaction of its own, in database "postgres": not counted.
        self.xacts = self._xacts() - self.xacts_before
        self.cpu = {name: sum(ms - self.before[name].get(pid, 0.0) for pid, ms in pids.items())
                    for name, pids in after.items()}

    def line(self, units: int, unit: str) -> str:
        per = {name: ms / units for name, ms in self.cpu.items()} if units else {}
        parts = ", ".join(f"{name} {ms:.1f}" for name, ms in per.items())
        return (f"CPU ms per {unit}: {parts}; total {sum(per.values()):.1f}; database "
                f"transactions per {unit} {self.xacts / units:.2f}" if units else "no " + unit)

    def figures(self, units: int) -> dict:
        per = {f"cpu_{name}": ms / units for name, ms in self.cpu.items()}
        return {**per, "cpu_total": sum(per.values()), "xacts": self.xacts / units}


@contextmanager
def process(args: list[str], env: dict):
    """A child process in its own process group, stopped (TERM, then KILL) on exit."""
    child = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


SERVER_PIDS: dict[str, int] = {}  # role -> root pid of the running deployment's processes


@contextmanager
def gunicorn(env: dict, *, workers: int = 4, threads: int = 1):
    port = free_port()
    args = [PYTHON, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--log-level", "warning", "--backlog", "2048"]
    if threads > 1:
        args += ["--threads", str(threads)]
    with process(args, env) as master:
        base = f"http://127.0.0.1:{port}"
        SERVER_PIDS["web"] = master.pid
        wait_http(base + "/healthz", timeout=120)  # 4 workers booting on a busy machine
        profile = os.environ.get("BENCH_PROFILE")  # collapsed stacks of every worker
        spy = subprocess.Popen(["py-spy", "record", "--subprocesses", "--pid", str(master.pid),
                                "--format", "raw", "--rate", "200", "-o", profile,
                                "--nonblocking"]) if profile else None
        try:
            yield base
        finally:
            if spy:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=30)


@contextmanager
def fake_stripe(env: dict):
    port = int(env["STRIPE_API_BASE"].rsplit(":", 1)[1])
    with process([PYTHON, "manage.py", "fake_stripe", "--port", str(port)], env):
        wait_port(port)
        yield env["STRIPE_API_BASE"]


@contextmanager
def celery_worker(env: dict, *, processes: int = 2, threads: int = 1):
    """`processes` Celery worker processes: prefork children when threads == 1, otherwise
    separate worker instances each running `threads` threads (tasks mostly wait on
    PostgreSQL, so threads overlap those waits)."""
    from contextlib import ExitStack

    import redis

    redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    worker_env = {**env, "CELERY_TASK_ALWAYS_EAGER": "0"}
    # BENCH_CELERY_NICE=19: the worker yields the CPU to gunicorn (intake first, as a
    # deployment would run processing at a lower priority during a storm).
    nice = os.environ.get("BENCH_CELERY_NICE")
    common = (["nice", "-n", nice] if nice else []) + [
        PYTHON, "-m", "celery", "-A", "config", "worker", "-l", "warning",
              "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with ExitStack() as stack:
        if threads == 1:
            worker = stack.enter_context(process(
                common + ["--pool", "prefork", "--concurrency", str(processes),
                          "-n", f"bench-{os.getpid()}@localhost"], worker_env))
            SERVER_PIDS["celery"] = worker.pid
        else:
            for n in range(processes):
                stack.enter_context(process(
                    common + ["--pool", "threads", "--concurrency", str(threads),
                              "-n", f"bench-{os.getpid()}-{n}@localhost"], worker_env))
        yield


# ---- figures ----------------------------------------------------------------------------

def percentile(values, pct):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency_line(latencies_ms) -> str:
    if not latencies_ms:
        return "no requests"
    return (f"p50 {statistics.median(latencies_ms):.1f} ms  p95 "
            f"{percentile(latencies_ms, 95):.1f} ms  p99 {percentile(latencies_ms, 99):.1f} ms")


# ---- load -------------------------------------------------------------------------------

def run_load(make_request, total: int, concurrency: int):
    """Call the coroutine function `make_request(http, i)` for i in range(total), at most
    `concurrency` at a time. Returns (elapsed seconds, list of results in order)."""

    async def main():
        import aiohttp

        connector = aiohttp.TCPConnector(limit=concurrency * 2, force_close=False)
        timeout = aiohttp.ClientTimeout(total=60)
        results = [None] * total
        queue = iter(range(total))

        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            async def worker():
                for i in queue:
                    results[i] = await make_request(http, i)

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - began, results

    return asyncio.run(main())
