"""Short side transactions of a request: bookkeeping that must commit whatever the request does
(the token bucket of the throttle, the last use of an API key).

A request already holds one connection (its own transaction). A side transaction borrows one more,
for one or two statements, in READ COMMITTED: concurrent updates of the same row wait for each
other and see the newest row, instead of failing with "could not serialize access" as in Odoo's
default REPEATABLE READ. At most ``SIDE_SLOTS`` side transactions run at once per process, so a
burst of requests needs at most its own connections plus ``SIDE_SLOTS`` (a burst of 40 on a
threaded server held 2 to 3 connections per request and emptied the pool of 64: HTTP 500
"Connection Pool Is Full"). When no slot or no connection is free within ``WAIT_SECONDS``,
``SideTransactionBusy`` is raised: the caller answers "busy" (429) rather than fail.
"""

import contextlib
import threading

from psycopg2.pool import PoolError

SIDE_SLOTS = 4
WAIT_SECONDS = 10.0
_slots = threading.BoundedSemaphore(SIDE_SLOTS)


class SideTransactionBusy(Exception):
    """No connection for a side transaction now: the server is overloaded, try again shortly."""


@contextlib.contextmanager
def side_transaction(registry):
    """A cursor of ``registry`` in its own READ COMMITTED transaction, committed on exit."""
    if not _slots.acquire(timeout=WAIT_SECONDS):
        raise SideTransactionBusy("no side transaction slot free")
    try:
        try:
            cr = registry.cursor()
        except PoolError as exc:
            raise SideTransactionBusy(str(exc)) from exc
        with cr:
            if not registry.in_test_mode():  # else the cursor is a savepoint of the test's transaction
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            yield cr
    finally:
        _slots.release()
