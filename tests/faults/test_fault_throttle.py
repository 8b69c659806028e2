"""The REST throttle under a burst, against the live server (issue 13 item 8).

40 requests released at once on a backend limited to 5 requests/s with a burst of 10. The
throttle's token bucket is one row in PostgreSQL: it was updated in a side transaction at
REPEATABLE READ (concurrent updates of the row failed with "could not serialize access", Odoo
retried the whole request, then answered 500) while each request held two or three connections
(one 500 "Connection Pool Is Full"). Every answer must be 202 (stored) or 429 (nothing stored,
Retry-After), whatever the timing.
"""

import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from fault_support import make_plant, order_report, post, request_errors, warm_up

CONTRACT = "test.order_report"
RATE, BURST, REQUESTS = 5, 10, 40
INGEST = "/controllers/"  # tracebacks of the REST routes (drain jobs also run through the server)


def _throttle_conflicts(log):
    """Log records of the burst's window that show the defect: a serialization failure of a
    query on the bucket or the key bookkeeping, or an empty connection pool anywhere."""
    records, current = [], []
    for line in log.splitlines():
        if len(line) > 24 and line[:4].isdigit() and line[4] == "-" and line[10] == " ":
            records.append("\n".join(current))
            current = []
        current.append(line)
    records.append("\n".join(current))
    return [
        r[:300]
        for r in records
        if "Connection Pool Is Full" in r
        or ("could not serialize access" in r and ("mfg_api_bucket" in r or "mfg_api_key" in r))
    ]


def _peak_connections(sql, db, stop, peak):
    while not stop.is_set():
        count = sql("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (db,))[0][0]
        peak[0] = max(peak[0], count)
        time.sleep(0.005)


def test_burst_of_40_gets_only_202_or_429(odoo_server, odoo_env, odoo_settings, sql, fault_report):
    plant = make_plant(odoo_env, "burst", api_rate_limit=RATE, api_burst=BURST)
    prefix = f"TB-{plant['code']}-"
    warm_up(odoo_server)
    log_start = len(odoo_server.log_text())
    start = threading.Barrier(REQUESTS)
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_peak_connections, args=(sql, odoo_settings["db"], stop, peak))

    def send(i):
        start.wait()
        status, answer, headers = post(
            odoo_server, plant, CONTRACT, order_report(plant, i, f"{prefix}{i % 5}")
        )
        return status, answer, headers

    watcher.start()
    began = time.monotonic()
    try:
        with ThreadPoolExecutor(REQUESTS) as pool:
            results = list(pool.map(send, range(REQUESTS)))
    finally:
        elapsed = time.monotonic() - began
        stop.set()
        watcher.join()
    statuses = Counter(status for status, _a, _h in results)
    accepted = sorted(answer["id"] for status, answer, _h in results if status == 202)
    rows = sql("SELECT id FROM mfg_message WHERE backend_id = %s ORDER BY id", (plant["backend_id"],))
    conflicts = _throttle_conflicts(odoo_server.log_text()[log_start:])
    errors = request_errors(odoo_server, log_start, INGEST)
    fault_report(
        f"REST throttle burst ({REQUESTS} at once, {RATE}/s burst {BURST})",
        REQUESTS,
        len(rows),
        "-",
        "-",
        "-",
        ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
        + f"; {len(conflicts)} serialization/pool errors in the log; peak {peak[0]} connections; {elapsed:.1f} s",
    )
    assert set(statuses) <= {202, 429}, (statuses, errors)
    assert not errors, errors
    assert not conflicts, conflicts[:3]
    assert BURST <= statuses[202] <= BURST + math.ceil(RATE * elapsed) + 1, (statuses, elapsed)
    assert [r[0] for r in rows] == accepted, "every 202 is stored, nothing else"
    for status, answer, headers in results:
        if status == 429:
            assert answer["error"] == "too_many_requests" and answer["detail"], answer
            assert int(headers["Retry-After"]) >= 1, headers
