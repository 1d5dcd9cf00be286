"""Django's PostgreSQL backend with a health check that costs no round trip while the
connection is quiet.

With persistent connections and CONN_HEALTH_CHECKS, Django checks the connection at the
start of every request with a `SELECT 1`: a round trip and a transaction of its own on
every request (a quarter of the transactions of a booking made through the form). A
server that restarts, fails over, or ends an idle session tells the client before it
closes (a FATAL message, then the end of the stream), so a dead connection has something
to read on its socket. The check therefore asks the socket first, without waiting: nothing
to read and psycopg sees the connection idle and healthy, it is used as it is; anything
else (a message, the end of the stream, an error) gets Django's `SELECT 1`, which closes
the connection if the server is gone. After an error in a request Django's own check runs
unchanged (`is_usable`). A real restart under load: tests/faults/test_database_restart.py.
"""

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from psycopg.pq import TransactionStatus


class DatabaseWrapper(PostgresDatabaseWrapper):
    def close_if_health_check_failed(self):
        if (self.connection is not None and self.health_check_enabled
                and not self.health_check_done and not self.pool and self._quiet()):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _quiet(self) -> bool:
        """Open, idle, and nothing arrived from the server since the last statement."""
        connection = self.connection
        if connection.closed or connection.broken \
                or connection.info.transaction_status != TransactionStatus.IDLE:
            return False
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
