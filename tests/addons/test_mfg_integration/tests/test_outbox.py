import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mfg_integration_base.pipeline.claim import drain_partitions
from odoo.addons.mfg_integration_base.transports.http import webhook_signing

from .common import MfgPipelineCase

SECRET = "plant-shared-secret"


class _RecordingHandler(BaseHTTPRequestHandler):
    """Answers every POST with the server's ``status`` and records what it received."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.received.append(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        )
        answer = json.dumps({"accepted": self.server.status < 400}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@tagged("post_install", "-at_install")
class TestOutbox(MfgPipelineCase):
    """Transactional outbox: an outbound message exists only if the business change commits."""

    def test_rolled_back_change_leaves_no_message(self):
        class BusinessError(Exception):
            pass

        raised = False
        try:
            with self.env.cr.savepoint():
                msg = self.backend._mfg_outbox("test.order_notice", {"order": "A", "status": "released"})
                self.assertTrue(msg.exists())
                self.assertEqual(len(self._drain_jobs("outbound")), drain_partitions())
                raise BusinessError("the business change failed after writing the message")
        except BusinessError:
            raised = True
        self.assertTrue(raised)
        self.assertFalse(self._outbound(backend=self.backend))
        self.assertFalse(self._drain_jobs("outbound"), "no drain job either")

    def test_committed_change_leaves_queued_message_and_drain_job(self):
        msg = self.backend._mfg_outbox(
            "test.order_notice", {"order": "A", "status": "released"}, ordering_key="A", correlation_id="c-1"
        )
        self.assertEqual(self._outbound(backend=self.backend), msg)
        self.assertEqual(msg.state, "queued")
        self.assertEqual(msg.exchange_type_id, self.etype_out)
        self.assertEqual(msg.transport, "http")
        self.assertEqual(json.loads(msg.payload), {"order": "A", "status": "released"})
        self.assertEqual((msg.ordering_key, msg.correlation_id), ("A", "c-1"))
        jobs = self._drain_jobs("outbound")
        n = drain_partitions()
        self.assertEqual(len(jobs), n, "one drain job per partition")
        self.assertEqual(
            sorted(jobs.mapped("identity_key")),
            [f"mfg_drain:{self.backend.id}:outbound:root.mfg:realtime:p{p}of{n}" for p in range(n)],
        )
        self.assertEqual(set(jobs.mapped("state")), {"pending"})
        self.assertEqual(set(jobs.mapped("channel")), {"root.mfg"})

        # A second message reuses the waiting jobs instead of stacking more.
        self.backend._mfg_outbox("test.order_notice", {"order": "B", "status": "released"})
        self.assertEqual(len(self._outbound(backend=self.backend)), 2)
        self.assertEqual(len(self._drain_jobs("outbound")), n)

    def test_outbox_refuses_unknown_or_inbound_type(self):
        with self.assertRaisesMatch(UserError, "Unknown exchange type test.nothing"):
            self.backend._mfg_outbox("test.nothing", {})
        with self.assertRaisesMatch(UserError, "is inbound, not outbound"):
            self.backend._mfg_outbox("test.order_report", {})
        self.assertFalse(self._outbound(backend=self.backend))

    def test_outbound_without_url_fails_with_reason(self):
        self.assertFalse(self.backend.http_url)
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "A"})
        self._drain("outbound")
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_class, "business")
        self.assertIn("Backend test-plant has no HTTP URL", msg.error_message)


@tagged("post_install", "-at_install")
class TestOutboundHttp(MfgPipelineCase):
    """Outbound messages sent over real HTTP to a receiver started by the test."""

    def _start_receiver(self, status=200):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
        server.received = []
        server.status = status
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.backend.write(
            {"http_url": f"http://127.0.0.1:{server.server_address[1]}/mes/orders", "hmac_secret": SECRET}
        )
        return server

    def test_send_signed_message(self):
        server = self._start_receiver(200)
        payload = {"order": "A", "status": "released", "quantity": 3}
        msg = self.backend._mfg_outbox("test.order_notice", payload, correlation_id="corr-7")

        self._drain("outbound")

        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertEqual(msg.attempts, 1)
        self.assertTrue(msg.response.startswith("HTTP 200"), msg.response)
        self.assertIn('"accepted": true', msg.response)
        self.assertEqual(len(server.received), 1)
        req = server.received[0]
        self.assertEqual(req["path"], "/mes/orders")
        self.assertEqual(json.loads(req["body"]), payload)
        self.assertEqual(req["body"], msg.payload.encode())
        headers = req["headers"]
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers["x-mfg-exchange-type"], "test.order_notice.v1")
        self.assertEqual(headers["x-mfg-backend"], "test-plant")
        self.assertEqual(headers["idempotency-key"], f"test-plant-{msg.id}")
        self.assertEqual(headers["x-correlation-id"], "corr-7")
        self.assertNotIn("authorization", headers, "no token configured, none sent")
        self.assertEqual(headers["webhook-id"], f"test-plant-{msg.id}")
        self.assertTrue(
            webhook_signing.verify_webhook(SECRET, req["body"], headers), "the receiver can verify it"
        )
        self.assertFalse(webhook_signing.verify_webhook("another-secret", req["body"], headers))
        self.assertFalse(webhook_signing.verify_webhook(SECRET, req["body"] + b" ", headers))
        self.assertNotIn("x-mfg-signature", headers, "the legacy signature only during a transition")

    def test_bearer_token_sent(self):
        server = self._start_receiver(200)
        self.backend.http_token = "tok-123"
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "A"})
        self._drain("outbound")
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertEqual(server.received[0]["headers"]["authorization"], "Bearer tok-123")

    def test_503_is_retried(self):
        server = self._start_receiver(503)
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "A"})
        self._drain("outbound")
        self.assertEqual(len(server.received), 1)
        self.assertEqual(msg.state, "retrying")
        self.assertEqual(msg.error_class, "transient")
        self.assertIn("HTTP 503", msg.error_message)
        self.assertTrue(msg.next_attempt_at)

        # The receiver is back: the next (due) attempt goes through.
        server.status = 200
        self._make_due(msg)
        self._drain("outbound")
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertEqual(msg.attempts, 2)
        self.assertEqual(len(server.received), 2)
        self.assertEqual(
            server.received[0]["headers"]["idempotency-key"],
            server.received[1]["headers"]["idempotency-key"],
            "a redelivery carries the same idempotency key",
        )

    def test_400_fails_without_retry(self):
        self._start_receiver(400)
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "A"})
        self._drain("outbound")
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_class, "business")
        self.assertIn("refused the message: HTTP 400", msg.error_message)

    def test_connection_refused_is_retried(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        # Nothing listens on that port any more.
        self.backend.write({"http_url": f"http://127.0.0.1:{port}/mes", "hmac_secret": SECRET})
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "A"})
        with mute_logger("urllib3.connectionpool"):
            self._drain("outbound")
        self.assertEqual(msg.state, "retrying")
        self.assertEqual(msg.error_class, "transient")
        self.assertIn("is not reachable: ConnectionError", msg.error_message)
        self.assertNotIn(SECRET, msg.error_message)
