"""Transports are plug-ins (mfg.transport): a transport model defined here, outside the base
(models/mfg_transport_loopback.py), is tested by the backend's connection test and sends
outbound messages, with nothing in mfg_integration_base naming it."""

import socket

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MfgPipelineCase


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tagged("post_install", "-at_install")
class TestTransportPlugins(MfgPipelineCase):
    def _test(self, backend=None):
        action = (backend or self.backend).action_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(action["params"]["title"], "Connection test")
        return action["params"]

    def test_every_transport_model_is_registered(self):
        codes = [t._mfg_code() for t in self.env["mfg.transport"]._mfg_transports()]
        self.assertEqual(codes, sorted(codes))
        self.assertLessEqual({"file", "http", "loopback", "mqtt", "rest"}, set(codes))

    def test_a_new_transport_is_tested_and_its_success_clears_its_error(self):
        self.backend.write({"test_loopback_state": "up", "last_error": "an old failure"})
        params = self._test()
        self.assertEqual(params["type"], "success", params["message"])
        self.assertEqual(
            params["message"], "Loopback of test-plant is up.", "only what is configured is tested"
        )
        self.assertFalse(self.backend.last_error)

    def test_a_failing_transport_reports_danger_and_records_its_error(self):
        self.backend.write({"test_loopback_state": "down", "mqtt_last_error": "the listener's own status"})
        params = self._test()
        self.assertEqual(params["type"], "danger")
        self.assertEqual(params["message"], "Loopback of test-plant is down: nobody answers.")
        self.assertEqual(self.backend.last_error, "Loopback of test-plant is down: nobody answers.")
        self.assertEqual(
            self.backend.mqtt_last_error,
            "the listener's own status",
            "MQTT is not set up: not tested, not touched",
        )

    def test_transports_sharing_an_error_field_keep_every_failure(self):
        # HTTP and the loopback both record in last_error: a success of one never hides the other.
        self.backend.write({"test_loopback_state": "down", "http_url": f"http://127.0.0.1:{closed_port()}/x"})
        params = self._test()
        self.assertEqual(params["type"], "danger")
        self.assertIn("is not reachable", params["message"])
        self.assertIn("nobody answers", params["message"])
        self.assertIn("is not reachable", self.backend.last_error)
        self.assertIn("nobody answers", self.backend.last_error)

    def test_nothing_set_up_names_every_transport(self):
        with self.assertRaises(UserError) as caught:
            self._test()
        text = str(caught.exception)
        for hint in ("HTTP URL", "MQTT", "inbox or outbox folder", "loopback state"):
            self.assertIn(hint, text)

    def test_outbound_messages_go_through_the_new_transport(self):
        self.backend._mfg_flow(self.etype_out).transport = "loopback"
        self.backend.test_loopback_state = "up"
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "A", "status": "released"})
        self.assertEqual(msg.transport, "loopback")
        self._drain("outbound")
        msg.invalidate_recordset()
        self.assertDone(msg)
        self.assertEqual(msg.response, "looped back to loop://test-plant/test.order_notice.v1")

    def test_the_flow_endpoint_comes_first(self):
        flow = self.backend._mfg_flow(self.etype_out)
        flow.write({"transport": "loopback", "endpoint": "loop://line-2"})
        self.backend.test_loopback_state = "up"
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "B", "status": "released"})
        self._drain("outbound")
        msg.invalidate_recordset()
        self.assertDone(msg)
        self.assertEqual(msg.response, "looped back to loop://line-2")

    def test_a_transient_failure_of_the_new_transport_is_retried(self):
        self.backend._mfg_flow(self.etype_out).transport = "loopback"
        self.backend.test_loopback_state = "down"
        msg = self.backend._mfg_outbox("test.order_notice", {"order": "C", "status": "released"})
        self._drain("outbound")
        msg.invalidate_recordset()
        self.assertEqual(msg.state, "retrying")
        self.assertIn("loopback of backend test-plant is down", msg.error_message)
