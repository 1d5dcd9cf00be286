"""Issue #21.8: on the embedded SQLite database a write that meets another write waits
for it instead of failing with "database is locked" (WAL, a busy timeout, and
transactions that take the write lock when they begin)."""

import os
import subprocess
import sys
import textwrap

from tests.conftest import BASE_DIR

# A payment retry (reads, then writes) meeting the webhook's write, with Django's own
# connections and transaction.atomic(), in two threads.
SCRIPT = textwrap.dedent("""
    import threading, time, django
    django.setup()
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE seat (id integer primary key, taken integer)")
        cursor.execute("INSERT INTO seat VALUES (1, 0)")
        cursor.execute("PRAGMA journal_mode")
        print("journal", cursor.fetchone()[0])
    connection.close()
    errors, webhook_has_lock = [], threading.Event()

    def webhook():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("UPDATE seat SET taken = taken + 1 WHERE id = 1")
                webhook_has_lock.set()
                time.sleep(1.5)
        except Exception as error:
            errors.append(repr(error))
        finally:
            connection.close()

    def retry():
        try:
            # The retry arrives while the webhook holds the write lock (waiting inside the
            # transaction instead could take the lock first and wait for ever).
            webhook_has_lock.wait(10)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT taken FROM seat WHERE id = 1")
                    cursor.execute("UPDATE seat SET taken = taken + 1 WHERE id = 1")
        except Exception as error:
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=webhook), threading.Thread(target=retry)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with connection.cursor() as cursor:
        cursor.execute("SELECT taken FROM seat WHERE id = 1")
        print("taken", cursor.fetchone()[0])
    print("errors", errors)
""")


def test_concurrent_writes_on_sqlite_wait_instead_of_failing(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "TESTING")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DEBUG="1",
               DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "journal wal" in result.stdout
    assert "errors []" in result.stdout, result.stdout
    assert "taken 2" in result.stdout
