"""Retained reference data: an outbound MQTT flow with "Reference data (retained)" publishes
each message retained on <topic>/<percent-encoded ordering key>, so a plant system or an edge
agent that connects later finds the latest state of each record. Real Mosquitto (127.0.0.1:1883)."""

import json

from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Command
from odoo.tests import tagged

from ..transports.mqtt import client as mqtt_client
from .common import MfgPipelineCase
from .mqtt_support import clear, retained, unique_prefix


@tagged("post_install", "-at_install")
class TestMqttRetained(MfgPipelineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etype = cls.env["mfg.exchange.type"].create(
            {"name": "Reference", "code": "test.reference", "direction": "outbound"}
        )
        cls.prefix = unique_prefix()
        cls.backend = cls.env["mfg.backend"].create(
            {
                "name": "Plant reference",
                "code": "plant-ref",
                "plant_code": "P1",
                "system_kind": "mes",
                "mqtt_enabled": True,
                "mqtt_topic_prefix": cls.prefix,
                "flow_ids": [
                    Command.create(
                        {"exchange_type_id": cls.etype.id, "transport": "mqtt", "mqtt_retained": True}
                    )
                ],
            }
        )
        cls.flow = cls.backend.flow_ids
        cls.base_topic = f"{cls.prefix}/P1/mes/odoo/test.reference.v1"

    def _put(self, payload, key):
        return self.env["mfg.outbox"]._mfg_put(self.backend, "test.reference", payload, ordering_key=key)

    def test_latest_state_per_record_stays_on_the_broker(self):
        key = "L/100 #1+x"  # separators and wildcards: one topic level all the same
        topic = f"{self.base_topic}/L%2F100%20%231%2Bx"
        self.addCleanup(clear, topic, f"{self.base_topic}/L-200")
        first = self._put({"lot": key, "status": "held"}, key)
        other = self._put({"lot": "L-200", "status": "released"}, "L-200")
        self._drain_all("outbound")
        self.assertDone(first, other)
        self.assertIn(f"published on {topic} (QoS 1, retained", first.response)
        found = retained(f"{self.base_topic}/#")
        self.assertEqual(set(found), {topic, f"{self.base_topic}/L-200"})
        payload, flag = found[topic]
        self.assertTrue(flag, "delivered to a later subscriber as retained")
        self.assertEqual(json.loads(payload)["status"], "held")
        # The next state of the record replaces the retained one.
        second = self._put({"lot": key, "status": "released"}, key)
        self._drain_all("outbound")
        self.assertDone(second)
        payload, flag = retained(topic)[topic]
        self.assertEqual((json.loads(payload)["status"], flag), ("released", True))

    def test_a_message_without_ordering_key_fails_naming_the_flow(self):
        msg = self._put({"lot": "L-300", "status": "held"}, None)
        self._drain_all("outbound")
        self.assertEqual(msg.state, "failed")
        self.assertIn("test.reference.v1 (outbound)", msg.error_message)
        self.assertIn("no ordering key", msg.error_message)
        self.assertFalse(retained(f"{self.base_topic}/#"))

    def test_a_flow_without_the_option_publishes_as_before(self):
        self.flow.mqtt_retained = False
        msg = self._put({"lot": "L-400", "status": "held"}, "L-400")
        self._drain_all("outbound")
        self.assertDone(msg)
        self.assertIn(f"published on {self.base_topic} (QoS 1, acknowledged", msg.response)
        self.assertFalse(retained(f"{self.base_topic}/#"))
        self.assertFalse(retained(self.base_topic), "nothing kept for later subscribers")

    def test_publish_current_reference_data_again(self):
        """The broker lost its retained messages (or the option was just turned on): the manager's
        button queues the last message sent of each record once more."""
        topics = [f"{self.base_topic}/L-500", f"{self.base_topic}/L-600"]
        self.addCleanup(clear, *topics)
        self._put({"lot": "L-500", "status": "held"}, "L-500")
        last = self._put({"lot": "L-500", "status": "released"}, "L-500")
        self._put({"lot": "L-600", "status": "held"}, "L-600")
        self._drain_all("outbound")
        clear(*topics)
        self.assertFalse(retained(f"{self.base_topic}/#"))
        manager = self._create_user("Ref manager", "ref-manager", self.group_manager)
        user = self._create_user("Ref user", "ref-user", self.group_user)
        with self.assertRaises(AccessError):
            self.flow.with_user(user).action_mfg_publish_reference_data()
        self.flow.with_user(manager).action_mfg_publish_reference_data()
        again = self._outbound("test.reference").filtered(lambda m: m.state == "queued")
        self.assertEqual(sorted(again.mapped("ordering_key")), ["L-500", "L-600"])
        self.assertEqual(again.filtered(lambda m: m.ordering_key == "L-500").payload, last.payload)
        self._drain_all("outbound")
        found = retained(f"{self.base_topic}/#")
        self.assertEqual(json.loads(found[topics[0]][0])["status"], "released")
        self.assertEqual(json.loads(found[topics[1]][0])["status"], "held")

    def test_only_outbound_mqtt_flows_keep_reference_data(self):
        with self.assertRaisesRegex(ValidationError, r"test.reference.v1 \(outbound\).*transport: http"):
            self.flow.write({"transport": "http"})

    def test_topic_is_one_level(self):
        self.assertEqual(mqtt_client.retained_topic("a/b", "x/y+#z é"), "a/b/x%2Fy%2B%23z%20%C3%A9")
