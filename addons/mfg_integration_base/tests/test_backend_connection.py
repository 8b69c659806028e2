import itertools
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

BROKER_HOST = "127.0.0.1"
BROKER_PORT = 1883  # the Mosquitto broker of this machine
_codes = itertools.count(1)


def closed_port():
    """A local TCP port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _HeadOk(BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args):
        pass


@tagged("post_install", "-at_install")
class TestBackendConnection(TransactionCase):
    """mfg.backend.action_test_connection: every transport set up on the backend (HTTP URL, MQTT
    broker...), one notification; the transports not set up are not tested."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), _HeadOk)
        cls.http_url = f"http://127.0.0.1:{cls.server.server_port}/mes"
        thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        thread.start()
        cls.addClassCleanup(thread.join, 5)
        cls.addClassCleanup(cls.server.server_close)
        cls.addClassCleanup(cls.server.shutdown)

    def _backend(self, **vals):
        return self.env["mfg.backend"].create(
            {"name": "Connection test", "code": f"conn-test-{next(_codes)}", **vals}
        )

    def _test(self, backend):
        action = backend.action_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        return action["params"]

    # ---------------------------------------------------------------- MQTT
    def test_mqtt_broker_reachable(self):
        backend = self._backend(
            mqtt_enabled=True, mqtt_host=BROKER_HOST, mqtt_port=BROKER_PORT, mqtt_last_error="old error"
        )
        messages_before = len(backend.message_ids)
        params = self._test(backend)
        self.assertEqual(params["type"], "success", params["message"])
        self.assertIn(f"MQTT broker {BROKER_HOST}:{BROKER_PORT}", params["message"])
        self.assertIn("accepted", params["message"])
        self.assertFalse(backend.mqtt_last_error)
        self.assertEqual(len(backend.message_ids), messages_before, "nothing posted in the chatter")

    def test_mqtt_v311_broker_reachable(self):
        backend = self._backend(
            mqtt_enabled=True, mqtt_host=BROKER_HOST, mqtt_port=BROKER_PORT, mqtt_protocol="v311"
        )
        self.assertEqual(self._test(backend)["type"], "success")

    def test_mqtt_broker_closed_port(self):
        port = closed_port()
        backend = self._backend(mqtt_enabled=True, mqtt_host="127.0.0.1", mqtt_port=port)
        messages_before = len(backend.message_ids)
        params = self._test(backend)
        self.assertEqual(params["type"], "danger")
        self.assertIn(f"127.0.0.1:{port}", params["message"])
        self.assertTrue(backend.mqtt_last_error)
        self.assertIn("ConnectionRefusedError", backend.mqtt_last_error)
        self.assertFalse(backend.last_error, "the HTTP error field is not touched by the MQTT test")
        self.assertEqual(len(backend.message_ids), messages_before, "nothing posted in the chatter")

    # ---------------------------------------------------------------- HTTP
    def test_http_reachable(self):
        backend = self._backend(http_url=self.http_url, last_error="old error")
        params = self._test(backend)
        self.assertEqual(params["type"], "success", params["message"])
        self.assertIn("answered HTTP 200", params["message"])
        self.assertFalse(backend.last_error)

    def test_http_closed_port(self):
        backend = self._backend(http_url=f"http://127.0.0.1:{closed_port()}/mes", http_timeout=3)
        params = self._test(backend)
        self.assertEqual(params["type"], "danger")
        self.assertIn("is not reachable", params["message"])
        self.assertTrue(backend.last_error)
        self.assertFalse(backend.mqtt_last_error)

    def test_a_transport_not_set_up_is_not_tested(self):
        backend = self._backend(http_url=self.http_url, mqtt_last_error="the listener's own status")
        params = self._test(backend)
        self.assertEqual(params["type"], "success", params["message"])
        self.assertEqual(params["message"], f"{self.http_url} answered HTTP 200.")
        self.assertEqual(backend.mqtt_last_error, "the listener's own status", "MQTT not enabled: untouched")

    # ---------------------------------------------------------------- both / neither
    def test_http_and_mqtt_reported_together(self):
        backend = self._backend(
            http_url=self.http_url, mqtt_enabled=True, mqtt_host=BROKER_HOST, mqtt_port=BROKER_PORT
        )
        params = self._test(backend)
        self.assertEqual(params["type"], "success", params["message"])
        self.assertIn("answered HTTP 200", params["message"])
        self.assertIn("MQTT broker", params["message"])

    def test_one_failure_makes_the_notification_danger(self):
        backend = self._backend(
            http_url=self.http_url, mqtt_enabled=True, mqtt_host="127.0.0.1", mqtt_port=closed_port()
        )
        params = self._test(backend)
        self.assertEqual(params["type"], "danger")
        self.assertIn("answered HTTP 200", params["message"])
        self.assertFalse(backend.last_error)
        self.assertTrue(backend.mqtt_last_error)

    def test_the_transports_of_the_base_are_registered(self):
        transports = {t._mfg_code(): t for t in self.env["mfg.transport"]._mfg_transports()}
        self.assertLessEqual({"http", "mqtt", "rest"}, set(transports))
        backend = self._backend(http_url=self.http_url, mqtt_enabled=True)
        self.assertFalse(
            transports["rest"]._mfg_is_configured(backend), "REST is inbound only: nothing to test"
        )
        self.assertTrue(transports["http"]._mfg_is_configured(backend))
        self.assertTrue(transports["mqtt"]._mfg_is_configured(backend))

    def test_nothing_configured(self):
        backend = self._backend()
        with self.assertRaises(UserError) as caught:
            backend.action_test_connection()
        self.assertIn("HTTP URL", str(caught.exception))
        self.assertIn("MQTT", str(caught.exception))
