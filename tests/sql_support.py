"""Plain SQL on a test or bench database, from outside Odoo: the one helper the suite and the benches share.

The end-to-end suite (``conftest.py``'s ``sql`` fixture), the scale-out test (``scale_support.py``) and the
benchmarks (``bench/mqtt_ingest.py`` and the benches that import it) all check the database with
``Sql``: one autocommit connection, one query per call, rows back (or ``None`` for a statement
without a result), and one reconnect when the connection was lost (the fault tests restart
PostgreSQL).
"""

import os
import time

import psycopg2


def env_dsn(db):
    """libpq connection string of ``db`` on the server named by MFG_DB_HOST / MFG_DB_PORT / MFG_DB_USER."""
    host = os.environ.get("MFG_DB_HOST", "127.0.0.1")
    port = os.environ.get("MFG_DB_PORT", "5432")
    user = os.environ.get("MFG_DB_USER", "odoo")
    return f"host={host} port={port} user={user} dbname={db}"


class Sql:
    """One autocommit connection to ``dsn``, opened on first use and reconnected once when lost.

    ``reconnect_delay``: seconds to wait before that reconnect (0 in tests; the benches give a
    restarting PostgreSQL a second)."""

    def __init__(self, dsn, reconnect_delay=0.0):
        self.dsn = dsn
        self.reconnect_delay = reconnect_delay
        self.conn = None

    def __call__(self, query, params=None):
        for attempt in (1, 2):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg2.connect(self.dsn)
                    self.conn.autocommit = True
                with self.conn.cursor() as cr:
                    cr.execute(query, params)
                    return cr.fetchall() if cr.description else None
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self.close()  # PostgreSQL restarted under us: reconnect once
                if attempt == 2:
                    raise
                if self.reconnect_delay:
                    time.sleep(self.reconnect_delay)
        return None

    def close(self):
        if self.conn is not None and not self.conn.closed:
            self.conn.close()
        self.conn = None
