"""Outbound HTTP to a receiver that first answers too slowly, then fails with 500, then recovers.

The receiver is a real HTTP server in the test process. Like a careful real receiver, it applies a
message once per Idempotency-Key and acknowledges redeliveries without applying them again. A slow
answer is the nasty case: the receiver *has* applied the message, but Odoo gave up waiting
(http_timeout) and must send it again; only the stable Idempotency-Key keeps it from being applied
twice. Every message must end 'done', applied exactly once, with its retries visible (attempts).
"""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fault_support import make_plant, state_counts, stored, wait_until

N_MESSAGES = 20
SLOW_ANSWERS = 4  # the first requests: applied, but answered after the backend's http_timeout
FAILED_ANSWERS = 6  # the next requests: HTTP 500, nothing applied
HTTP_TIMEOUT = 1  # s, the backend's http_timeout
SLOW_SECONDS = 2.5


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.lock = threading.Lock()
        self.requests = 0
        self.requests_per_key = Counter()
        self.applied = {}  # Idempotency-Key -> payload: the receiver's business effect
        self.applied_per_order = Counter()
        self.slow = self.failed = self.redelivered = 0

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/orders"

    def apply(self, key, payload):
        """True when ``key`` was new (applied now), False for a redelivery."""
        with self.lock:
            if key in self.applied:
                self.redelivered += 1
                return False
            self.applied[key] = payload
            self.applied_per_order[payload.get("order")] += 1
            return True


class ReceiverHandler(BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender stopped waiting (its timeout): expected in the slow phase

    def do_POST(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        key = self.headers.get("Idempotency-Key")
        with server.lock:
            number = server.requests
            server.requests += 1
            server.requests_per_key[key] += 1
        if not key:
            self._answer(400, {"error": "Idempotency-Key missing"})
        elif number < SLOW_ANSWERS:
            server.slow += 1
            server.apply(key, payload)
            time.sleep(SLOW_SECONDS)
            self._answer(200, {"applied": True})
        elif number < SLOW_ANSWERS + FAILED_ANSWERS:
            with server.lock:
                server.failed += 1
            self._answer(500, {"error": "database is restarting"})
        else:
            self._answer(200, {"applied": server.apply(key, payload)})


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def quick_retries(odoo_env):
    """Retry test.order_notice after 1 s (no backoff, no jitter), up to 10 attempts; restored after."""
    fields = ("retry_delay", "retry_backoff", "retry_jitter", "max_attempts")
    with odoo_env() as env:
        etype = env["mfg.exchange.type"]._find("test.order_notice")
        saved = {f: etype[f] for f in fields}
        etype.write({"retry_delay": 1, "retry_backoff": 1.0, "retry_jitter": 0.0, "max_attempts": 10})
    yield
    with odoo_env() as env:
        env["mfg.exchange.type"]._find("test.order_notice").write(saved)


def test_slow_then_failing_receiver_gets_each_message_once(
    odoo_server, odoo_env, sql, receiver, quick_retries, fault_report
):
    plant = make_plant(
        odoo_env,
        "http",
        inbound=(),
        outbound=("test.order_notice",),
        http_url=receiver.url,
        http_timeout=HTTP_TIMEOUT,
    )
    backend_id = plant["backend_id"]
    # One business transaction writes all the notices (transactional outbox); its commit starts
    # the drains that send them.
    with odoo_env() as env:
        backend = env["mfg.backend"].browse(backend_id)
        ids = [
            backend._mfg_outbox(
                "test.order_notice",
                {"order": f"MO-{plant['code']}-{i}", "event": "released"},
                ordering_key=f"MO-{plant['code']}-{i}",
            ).id
            for i in range(N_MESSAGES)
        ]

    def all_done():
        return state_counts(sql, backend_id, "outbound") == {"done": N_MESSAGES}

    # Retries are due 1 s after each failure: everything should be done well within 12 s.
    on_time = bool(wait_until(all_done, timeout=12, interval=0.5))
    late = state_counts(sql, backend_id, "outbound")
    cron_runs = 0
    while not all_done() and cron_runs < 3:
        # The safety net of production (the drain-due cron, every 5 minutes), called at once.
        cron_runs += 1
        with odoo_env() as env:
            env["mfg.backend"]._cron_mfg_drain_due()
        wait_until(all_done, timeout=20, interval=0.5)
    assert all_done(), (state_counts(sql, backend_id, "outbound"), odoo_server.log_tail())
    time.sleep(1)  # nothing more may arrive

    rows, _distinct = stored(sql, backend_id, "outbound")
    attempts = dict(sql("SELECT id, attempts FROM mfg_message WHERE id = ANY(%s)", (ids,)))
    expected_keys = {f"{plant['code']}-{mid}" for mid in ids}
    applied = len(receiver.applied)
    lost = len(expected_keys - set(receiver.applied))
    duplicated = sum(n - 1 for n in receiver.applied_per_order.values() if n > 1)
    retried = sum(1 for n in attempts.values() if n > 1)
    fault_report(
        "outbound HTTP: slow, then 500, then recovered",
        N_MESSAGES,
        rows,
        applied,
        lost,
        duplicated,
        f"{receiver.requests} requests: {receiver.slow} timed out, {receiver.failed} x 500, "
        f"{receiver.redelivered} redeliveries dropped by Idempotency-Key; {retried} msgs retried"
        + ("" if on_time else f"; drain-due cron runs needed: {cron_runs}"),
    )
    assert rows == N_MESSAGES
    assert lost == 0 and duplicated == 0 and applied == N_MESSAGES
    assert set(receiver.applied) == expected_keys, "a retry was sent under another Idempotency-Key"
    assert receiver.slow == SLOW_ANSWERS and receiver.failed == FAILED_ANSWERS
    # Every failed request is one failed attempt, retried later: the attempts Odoo counts are the
    # requests the receiver saw, and a message answered too late was delivered again.
    assert sum(attempts.values()) == receiver.requests == N_MESSAGES + SLOW_ANSWERS + FAILED_ANSWERS
    assert retried >= 1 and max(attempts.values()) > 1
    assert receiver.redelivered >= SLOW_ANSWERS
    answers = sql(
        "SELECT count(*) FROM mfg_message WHERE id = ANY(%s) AND response LIKE 'HTTP 200%%'", (ids,)
    )[0][0]
    assert answers == N_MESSAGES
    # Each drain schedules the next retry of its partition that is not due yet (issue 12): the
    # retries no longer wait for the drain-due cron.
    assert on_time, f"retries waited for the drain-due cron: {late} after 12 s"
