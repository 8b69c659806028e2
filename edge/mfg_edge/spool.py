"""The durable spool: one SQLite row per message, in arrival order, until the plant broker has it.

SQLite in WAL mode with ``synchronous=FULL``: ``put`` returns once the row is committed to disk,
and only then does a source answer its plant system (202 / file moved). The publisher reads rows in
id order and deletes a row only after the broker's PUBACK; after a crash (kill -9, power cut) every
row still there is published again (a duplicate is harmless downstream: Odoo recognises the
message id; a loss is not).

Bounded: ``put`` raises ``SpoolFull`` above ``max_messages`` rows or ``max_bytes`` of payload, and
the source refuses (503 / leaves the file in place); nothing is dropped silently.

A message with a ``message_id`` is stored once per (topic, message_id) while it is spooled:
``put`` answers the row already there (``duplicate`` True).
"""

import sqlite3
import threading
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    message_id TEXT,
    received_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS spool_message ON spool (topic, message_id) WHERE message_id IS NOT NULL;
"""


class SpoolFull(Exception):
    """The spool holds its configured maximum: the source must refuse, not drop."""


def connect(path):
    """A connection to the agent's SQLite file: WAL, synchronous FULL, shared between threads
    (each user serialises its calls with its own lock)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Spool:
    def __init__(self, path, max_messages=100_000, max_bytes=2**30, on_put=None):
        self.conn = connect(path)
        self.conn.executescript(SCHEMA)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.on_put = on_put  # called (no argument) after each new row: wakes the publisher
        self._lock = threading.Lock()
        self.depth, self.bytes = self.conn.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM spool"
        ).fetchone()

    def put(self, topic, payload, message_id=None, received_at=None):
        """``(id, duplicate)`` once the row is on disk; ``SpoolFull`` when it cannot be taken."""
        if isinstance(payload, str):
            payload = payload.encode()
        with self._lock:
            if message_id is not None:
                row = self.conn.execute(
                    "SELECT id FROM spool WHERE topic = ? AND message_id = ?", (topic, message_id)
                ).fetchone()
                if row:
                    return row[0], True
            if self.depth + 1 > self.max_messages or self.bytes + len(payload) > self.max_bytes:
                raise SpoolFull(
                    f"spool full: {self.depth} messages, {self.bytes} bytes "
                    f"(max_spool_messages = {self.max_messages}, max_spool_bytes = {self.max_bytes})"
                )
            cur = self.conn.execute(
                "INSERT INTO spool (topic, payload, message_id, received_at) VALUES (?, ?, ?, ?)",
                (topic, payload, message_id, received_at or time.time()),
            )  # autocommit: committed (and synced, synchronous=FULL) when execute returns
            self.depth += 1
            self.bytes += len(payload)
            row_id = cur.lastrowid
        if self.on_put:
            self.on_put()
        return row_id, False

    def after(self, row_id, limit):
        """Up to ``limit`` rows ``(id, topic, payload)`` with an id above ``row_id``, in order."""
        with self._lock:
            return self.conn.execute(
                "SELECT id, topic, payload FROM spool WHERE id > ? ORDER BY id LIMIT ?", (row_id, limit)
            ).fetchall()

    def delete(self, ids):
        """Forget rows the broker acknowledged (one transaction)."""
        if not ids:
            return
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                gone = 0
                size = 0
                for row_id in ids:
                    row = self.conn.execute(
                        "DELETE FROM spool WHERE id = ? RETURNING length(payload)", (row_id,)
                    ).fetchone()
                    if row:
                        gone += 1
                        size += row[0]
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.depth -= gone
            self.bytes -= size

    def stats(self):
        """``{"depth", "bytes", "oldest_at"}`` (``oldest_at``: epoch seconds or None)."""
        with self._lock:
            depth, size, oldest = self.conn.execute(
                "SELECT count(*), coalesce(sum(length(payload)), 0), min(received_at) FROM spool"
            ).fetchone()
        return {"depth": depth, "bytes": size, "oldest_at": oldest}

    def close(self):
        with self._lock:
            self.conn.close()
