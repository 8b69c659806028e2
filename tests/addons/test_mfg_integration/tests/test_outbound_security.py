"""Outbound HTTP security: allowed hosts only (SSRF), Standard Webhooks signatures, Retry-After.

Real HTTP servers run in the test process on 127.0.0.1. The test configuration written by setup/lib.sh
allows loopback receivers; each test here sets the allow-list it needs (server setting and/or system
parameter) explicitly.
"""

import importlib.util
import json
import threading
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.modules.module import get_module_path
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from odoo.addons.mfg_integration_base.transports.http import outbound, webhook_signing

from .common import MfgPipelineCase

# A Standard Webhooks secret as a receiver hands it out (base64 of 32 bytes).
WH_SECRET = "whsec_MfgHubTestSecretMfgHubTestSecret0123456789=="


class _Handler(BaseHTTPRequestHandler):
    """Records every request; answers with what the server's ``answer`` callable returns."""

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        request = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        self.server.received.append(request)
        status, headers, payload = self.server.answer(request)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_HEAD = do_GET = _handle

    def log_message(self, *args):
        pass


def _ok(_request):
    return 200, {"Content-Type": "application/json"}, b'{"accepted": true}'


@tagged("post_install", "-at_install")
class TestOutboundSecurity(MfgPipelineCase):
    def _server(self, answer=_ok):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.received = []
        server.answer = answer
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        server.url = f"http://127.0.0.1:{server.server_address[1]}"
        return server

    @contextmanager
    def _allowed_hosts(self, value):
        """The server setting [mfg_integration] outbound_allowed_hosts set to ``value`` for the block."""
        section = dict(config.misc.get("mfg_integration", {}), outbound_allowed_hosts=value)
        with patch.dict(config.misc, {"mfg_integration": section}):
            yield

    def _send(self, payload=None):
        msg = self.backend._mfg_outbox("test.order_notice", payload or {"order": "A"})
        self._drain("outbound")
        return msg

    # ------------------------------------------------------------------ SSRF (issue 13 item 3)
    def test_internal_server_not_reached_unless_allowed(self):
        internal = self._server()
        url = f"{internal.url}/admin/reset"
        # The default (nothing set) and "any public host" both refuse loopback, when saved...
        for allowed in ("", "*", "*, localhost"):
            with self._allowed_hosts(allowed):
                with self.assertRaisesMatch(
                    ValidationError, r"HTTP URL .*127\.0\.0\.1.*outbound_allowed_hosts"
                ):
                    self.backend.write({"http_url": url})
                with self.assertRaisesMatch(ValidationError, r"HTTP URL .*localhost"):
                    # a name that leads to loopback is refused as well (its address is not listed)
                    self.backend.write({"http_url": f"http://localhost:{internal.server_address[1]}/x"})
        # ... and when sent (a URL saved while allowed, then the allow-list tightened).
        with self._allowed_hosts("127.0.0.1"):
            self.backend.http_url = url
        with self._allowed_hosts("*"):
            msg = self._send()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_class, "business")
        self.assertIn("was not contacted", msg.error_message)
        self.assertIn("127.0.0.1", msg.error_message)
        self.assertEqual(internal.received, [], "the internal server must not be reached")

        # A system administrator allows it (system parameter): the same message goes through.
        with self._allowed_hosts("*"):
            self.env["ir.config_parameter"].set_param("mfg_integration.outbound_allowed_hosts", "127.0.0.1")
            msg.action_retry()
            self._drain("outbound")
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertEqual([r["path"] for r in internal.received], ["/admin/reset"])

    def test_allowed_hosts_are_set_by_system_administrators_only(self):
        manager = self._create_user("Integration manager", "mgr-ssrf", [self.group_manager])
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(manager).set_param(
                "mfg_integration.outbound_allowed_hosts", "*, 10.0.0.0/8"
            )
        with (
            self._allowed_hosts("*"),
            self.assertRaisesMatch(ValidationError, r"Endpoint .*169\.254\.169\.254"),
        ):
            self.backend.flow_ids.filtered(lambda f: f.direction == "outbound").with_user(manager).write(
                {"endpoint": "http://169.254.169.254/latest/meta-data/"}
            )

    def test_connection_guard_checks_the_address_reached(self):
        # Even when the URL check is bypassed (e.g. a name that resolved elsewhere a moment ago), the
        # connection itself refuses an address that is not allowed before sending a byte.
        internal = self._server()
        transport = self.env["mfg.transport.http"]
        with transport._mfg_session(outbound.parse_policy("*")) as session:
            with self.assertRaises(outbound.OutboundRefused):
                session.post(f"{internal.url}/x", data=b"{}", timeout=5)
        self.assertEqual(internal.received, [])

    def test_connection_test_refuses_internal_hosts_too(self):
        internal = self._server()
        with self._allowed_hosts("127.0.0.1"):
            self.backend.http_url = f"{internal.url}/x"
        with self._allowed_hosts("*"):
            action = self.backend.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("127.0.0.1 is an address outbound messages may not reach", action["params"]["message"])
        self.assertIn("outbound_allowed_hosts", self.backend.last_error)
        self.assertEqual(internal.received, [])

    def test_redirect_is_not_followed(self):
        def answer(request):
            if request["path"] == "/hook":
                return 307, {"Location": "/internal/secrets"}, b""
            return 200, {"Content-Type": "text/plain"}, b"internal data"

        server = self._server(answer)
        self.backend.http_url = f"{server.url}/hook"
        msg = self._send()
        self.assertEqual([r["path"] for r in server.received], ["/hook"], "the redirect is not followed")
        self.assertEqual(msg.state, "failed")
        self.assertIn("redirects are not followed", msg.error_message)
        self.assertNotIn("internal data", msg.response or "")

    def test_only_a_bounded_redacted_excerpt_of_the_answer_is_kept(self):
        def answer(_request):
            body = {
                "accepted": True,
                "echo_authorization": "Bearer tok-very-secret-42",
                "access_token": "at-9f8e7d6c5b4a",
                "db_password": "hunter2",
                "dump": "x" * 100_000,
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

        server = self._server(answer)
        self.backend.write({"http_url": f"{server.url}/hook", "http_token": "tok-very-secret-42"})
        msg = self._send()
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertTrue(msg.response.startswith("HTTP 200: "), msg.response)
        self.assertIn('"accepted": true', msg.response)
        self.assertLessEqual(len(msg.response), len("HTTP 200: ") + outbound.EXCERPT_CHARS + 1)
        for secret in ("tok-very-secret-42", "at-9f8e7d6c5b4a", "hunter2"):
            self.assertNotIn(secret, msg.response)

        def binary(_request):
            return 503, {"Content-Type": "application/octet-stream"}, b"\x00\x01secret-core-dump" * 100

        server.answer = binary
        msg = self._send()
        self.assertEqual(msg.state, "retrying")
        self.assertIn("HTTP 503: (1800 bytes of application/octet-stream)", msg.error_message)
        self.assertNotIn("secret-core-dump", msg.error_message)

    # ------------------------------------------------------------------ Standard Webhooks (item 4)
    def _verifying_receiver(self, secret):
        """A receiver as the Standard Webhooks libraries make it: verify, then drop known ids."""
        webhook = Webhook(secret)
        seen = set()

        def answer(request):
            try:
                webhook.verify(request["body"], request["headers"])
            except WebhookVerificationError as exc:
                return 401, {"Content-Type": "text/plain"}, str(exc).encode()
            msg_id = {k.lower(): v for k, v in request["headers"].items()}["webhook-id"]
            applied = msg_id not in seen
            seen.add(msg_id)
            return 200, {"Content-Type": "application/json"}, json.dumps({"applied": applied}).encode()

        return self._server(answer)

    def test_standard_webhooks_receiver_verifies_and_refuses_replay_under_new_id(self):
        receiver = self._verifying_receiver(WH_SECRET)
        self.backend.write({"http_url": f"{receiver.url}/hook", "hmac_secret": WH_SECRET})
        msg = self._send({"order": "A", "status": "released"})
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertIn('"applied": true', msg.response)
        captured = receiver.received[0]
        headers = {k.lower(): v for k, v in captured["headers"].items()}
        self.assertEqual(headers["webhook-id"], f"test-plant-{msg.id}")
        self.assertEqual(headers["webhook-id"], headers["idempotency-key"])
        self.assertTrue(headers["webhook-signature"].startswith("v1,"))
        self.assertNotIn("x-mfg-signature", headers, "new backends send the standard signature only")

        # An attacker replays the captured request under a new id: refused.
        replay = dict(headers, **{"webhook-id": f"test-plant-{msg.id + 1000}", "idempotency-key": "x"})
        resp = requests.post(f"{receiver.url}/hook", data=captured["body"], headers=replay, timeout=5)
        self.assertEqual(resp.status_code, 401)
        self.assertIn(b"No matching signature", resp.content)
        # Under the same id it verifies, and the receiver drops it as a redelivery.
        resp = requests.post(f"{receiver.url}/hook", data=captured["body"], headers=headers, timeout=5)
        self.assertEqual((resp.status_code, resp.json()), (200, {"applied": False}))

    def test_transition_sends_legacy_signature_too(self):
        plain = "plant-shared-secret"  # a secret from before Standard Webhooks: signs with its UTF-8 bytes
        receiver = self._verifying_receiver(plain.encode())
        self.backend.write(
            {"http_url": f"{receiver.url}/hook", "hmac_secret": plain, "webhook_signature": "standard_legacy"}
        )
        msg = self._send()
        self.assertEqual(msg.state, "done", msg.error_message)
        captured = receiver.received[0]
        headers = {k.lower(): v for k, v in captured["headers"].items()}
        self.assertTrue(
            webhook_signing.verify(
                plain, captured["body"], headers["x-mfg-timestamp"], headers["x-mfg-signature"]
            ),
            "an existing receiver still verifies the legacy header",
        )
        self.assertTrue(webhook_signing.verify_webhook(plain, captured["body"], headers))

    def test_malformed_standard_secret_is_refused_when_saved(self):
        with self.assertRaisesMatch(ValidationError, "HMAC secret of backend test-plant starts with whsec_"):
            self.backend.hmac_secret = "whsec_not base64!"
        self.backend.action_generate_hmac_secret()
        self.assertTrue(self.backend.hmac_secret.startswith("whsec_"))
        Webhook(self.backend.hmac_secret)  # a Standard Webhooks library accepts it as is

    def test_migration_keeps_legacy_signature_for_existing_secrets(self):
        with_secret = self._create_backend("Old MES", "old-mes", hmac_secret="old-secret")
        without = self._create_backend("Old WMS", "old-wms")
        self.env.flush_all()
        path = f"{get_module_path('mfg_integration_base')}/migrations/18.0.1.1.0/post-migration.py"
        spec = importlib.util.spec_from_file_location("mfg_base_post_migration_1_1", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(self.env.cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.assertEqual(with_secret.webhook_signature, "standard_legacy")
        self.assertEqual(without.webhook_signature, "standard")

    # ------------------------------------------------------------------ Retry-After (issue 12 item 8)
    def test_retry_after_sets_the_next_attempt(self):
        def busy(_request):
            return 503, {"Retry-After": "120", "Content-Type": "text/plain"}, b"maintenance"

        server = self._server(busy)
        self.backend.http_url = f"{server.url}/hook"
        before = fields.Datetime.now()
        with mute_logger("odoo.addons.mfg_integration_base.pipeline.process"):
            msg = self._send()
        after = fields.Datetime.now()
        self.assertEqual(msg.state, "retrying", msg.error_message)
        self.assertIn("HTTP 503: maintenance", msg.error_message)
        # fields.Datetime.now() is whole seconds, like next_attempt_at: the same clock on both sides.
        self.assertGreaterEqual(msg.next_attempt_at, before + timedelta(seconds=120))
        self.assertLessEqual(msg.next_attempt_at, after + timedelta(seconds=120))
        # The drain that retries it is queued for then, not earlier.
        etas = self._drain_jobs("outbound").filtered(lambda j: j.state == "pending").mapped("eta")
        self.assertIn(msg.next_attempt_at, etas)

    def test_retry_after_is_bounded(self):
        def busy(_request):
            return 429, {"Retry-After": "31536000"}, b""

        server = self._server(busy)
        self.backend.http_url = f"{server.url}/hook"
        before = fields.Datetime.now()
        msg = self._send()
        after = fields.Datetime.now()
        self.assertEqual(msg.state, "retrying", msg.error_message)
        self.assertGreaterEqual(msg.next_attempt_at, before + timedelta(seconds=outbound.RETRY_AFTER_MAX))
        self.assertLessEqual(msg.next_attempt_at, after + timedelta(seconds=outbound.RETRY_AFTER_MAX))
