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
SERIALIZATION_MARKS = ("SERIALIZATION_FAILURE", "could not serialize access", "Connection Pool Is Full")


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
    log = odoo_server.log_text()[log_start:]
    conflicts = sum(log.count(mark) for mark in SERIALIZATION_MARKS)
    errors = request_errors(odoo_server, log_start)
    fault_report(
        f"REST throttle burst ({REQUESTS} at once, {RATE}/s burst {BURST})",
        REQUESTS,
        len(rows),
        "-",
        "-",
        "-",
        ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
        + f"; {conflicts} serialization/pool errors in the log; peak {peak[0]} connections; {elapsed:.1f} s",
    )
    assert set(statuses) <= {202, 429}, (statuses, errors)
    assert not errors, errors
    assert conflicts == 0, [ln for ln in log.splitlines() if any(m in ln for m in SERIALIZATION_MARKS)][:5]
    assert BURST <= statuses[202] <= BURST + math.ceil(RATE * elapsed) + 1, (statuses, elapsed)
    assert [r[0] for r in rows] == accepted, "every 202 is stored, nothing else"
    for status, answer, headers in results:
        if status == 429:
            assert answer["error"] == "too_many_requests" and answer["detail"], answer
            assert int(headers["Retry-After"]) >= 1, headers
