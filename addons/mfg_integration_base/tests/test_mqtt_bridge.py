"""The plant broker's bridge configuration: the generator (transports/mqtt/bridge.py, no ORM) and
the backend's button / wizard (managers only). That Mosquitto runs it and survives a WAN cut is
tests/test_plant_bridge_e2e.py."""

import base64

from odoo.exceptions import AccessError, UserError
from odoo.tests import BaseCase, TransactionCase, new_test_user, tagged

from ..transports.mqtt import bridge


def inputs(**over):
    values = {
        "code": "p01-mes",
        "address": "mqtt.example.com:8883",
        "topic_prefix": "mfg",
        "plant": "P01",
        "system": "mes",
        "protocol": "mqttv311",
        "keepalive": 30,
        "client_id": "plant-p01-mes",
        "cert_dir": "/etc/mosquitto/certs",
        "outage_hours": 4,
        "rate": 50,
        "message_bytes": 800,
    }
    values.update(over)
    return values


PLANT = {"persistence_location": "/var/lib/mosquitto/", "listener": "127.0.0.1:1883", "autosave_interval": 10}


def directives(text):
    """{directive: [values]} of the non-comment lines."""
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _sep, value = line.partition(" ")
            found.setdefault(key, []).append(value)
    return found


@tagged("post_install", "-at_install")
class TestBridgeGenerator(BaseCase):
    def test_one_backend_both_directions_durable_and_tls(self):
        text = bridge.bridge_config(PLANT, [inputs()])
        d = directives(text)
        self.assertEqual(d["connection"], ["odoo-p01-mes"])
        self.assertEqual(d["address"], ["mqtt.example.com:8883"])
        self.assertEqual(
            d["topic"],
            [
                "mfg/P01/mes/+ out 1",  # facts
                "mfg/P01/mes/edge/# out 1",  # the edge agent's status (retained) and its will
                "mfg/P01/mes/files/# out 1",  # whole files forwarded by the edge agent
                "mfg/P01/mes/odoo/# in 1",  # releases and retained reference data
            ],
        )
        self.assertEqual(d["try_private"], ["true"], "the central broker keeps retain flags for a bridge")
        self.assertEqual(d["cleansession"], ["false"])
        self.assertEqual(d["local_cleansession"], ["false"])
        self.assertEqual(d["persistence"], ["true"])
        self.assertEqual(d["persistence_location"], ["/var/lib/mosquitto/"])
        self.assertEqual(d["bridge_protocol_version"], ["mqttv311"])
        self.assertEqual(d["bridge_cafile"], ["/etc/mosquitto/certs/ca.crt"])
        self.assertEqual(d["bridge_certfile"], ["/etc/mosquitto/certs/p01-mes.crt"])
        self.assertEqual(d["bridge_keyfile"], ["/etc/mosquitto/certs/p01-mes.key"])
        self.assertEqual(d["bridge_insecure"], ["false"])
        self.assertEqual(d["notifications"], ["true"])
        self.assertEqual(d["notification_topic"], ["mfg/P01/mes/bridge/state"])
        self.assertEqual(d["keepalive_interval"], ["30"])
        self.assertEqual(d["restart_timeout"], ["5 60"])
        self.assertEqual(d["remote_clientid"], ["plant-p01-mes"])
        self.assertNotIn("WARNING", text)

    def test_queue_bounds_sized_from_the_outage_with_the_arithmetic(self):
        text = bridge.bridge_config(PLANT, [inputs(outage_hours=4, rate=50, message_bytes=800)])
        d = directives(text)
        # 4 h x 3600 s/h x 50 msg/s = 720,000; x 1.25 = 900,000; x (800 + 200) B = 900,000,000 B
        self.assertEqual(d["max_queued_messages"], ["900000"])
        self.assertEqual(d["max_queued_bytes"], ["900000000"])
        self.assertIn("# p01-mes: 4 h x 3600 s/h x 50 msg/s = 720,000 messages;", text)
        self.assertIn("x 1.25 headroom = 900,000 messages", text)
        self.assertIn("= 900,000,000 bytes", text)

    def test_two_backends_of_a_plant_one_connection_each_queues_summed(self):
        text = bridge.bridge_config(
            PLANT,
            [
                inputs(),
                inputs(code="p01-qms", system="quality", client_id="plant-p01-qms", rate=2, outage_hours=1),
            ],
        )
        d = directives(text)
        self.assertEqual(d["connection"], ["odoo-p01-mes", "odoo-p01-qms"])
        self.assertIn("mfg/P01/quality/+ out 1", d["topic"])
        self.assertIn("mfg/P01/quality/edge/# out 1", d["topic"])
        self.assertIn("mfg/P01/quality/odoo/# in 1", d["topic"])
        # 900,000 + ceil(1 x 3600 x 2 x 1.25) = 900,000 + 9,000
        self.assertEqual(d["max_queued_messages"], ["909000"])
        self.assertEqual(len(d["persistence"]), 1, "global settings are written once")

    def test_mqtt5_is_written_only_with_the_warning(self):
        text = bridge.bridge_config(PLANT, [inputs(protocol="mqttv50")])
        self.assertEqual(directives(text)["bridge_protocol_version"], ["mqttv50"])
        self.assertIn("WARNING: Mosquitto's bridge sends no Session Expiry Interval", text)

    def test_address_forms(self):
        self.assertEqual(bridge.parse_address("broker.example.com"), ("broker.example.com", 8883))
        self.assertEqual(bridge.parse_address("10.0.0.5:1883"), ("10.0.0.5", 1883))
        self.assertEqual(bridge.parse_address("[fd00::1]:8883"), ("[fd00::1]", 8883))

    def test_bad_input_names_the_field_and_the_value(self):
        cases = [
            ({"address": ""}, "Central broker address ''"),
            ({"address": "host:99999"}, "Central broker address 'host:99999'"),
            ({"address": "bad host:1"}, "Central broker address 'bad host:1'"),
            ({"plant": "P/1"}, "Plant code of backend p01-mes 'P/1'"),
            ({"topic_prefix": "mfg/#"}, "Topic prefix of backend p01-mes 'mfg/#'"),
            ({"outage_hours": 0}, "Outage to survive (hours) of backend p01-mes 0"),
            ({"rate": float("nan")}, "Expected messages per second of backend p01-mes nan"),
            ({"message_bytes": -5}, "Average message size (bytes) of backend p01-mes -5"),
            ({"keepalive": 2}, "Bridge keepalive (s) of backend p01-mes 2"),
            ({"protocol": "mqttv7"}, "Bridge protocol of backend p01-mes 'mqttv7'"),
            ({"cert_dir": "certs"}, "Certificate folder of backend p01-mes 'certs'"),
            ({"code": "p 01"}, "Backend code 'p 01'"),
            ({"cert_dir": "/etc/x\nconnection evil"}, "Certificate folder of backend p01-mes"),
        ]
        for over, expected in cases:
            with self.subTest(over=over), self.assertRaises(ValueError) as caught:
                bridge.bridge_config(PLANT, [inputs(**over)])
            self.assertIn(expected, str(caught.exception))
        with self.assertRaisesRegex(ValueError, "a code appears twice"):
            bridge.bridge_config(PLANT, [inputs(), inputs()])
        with self.assertRaisesRegex(ValueError, "no backend to bridge"):
            bridge.bridge_config(PLANT, [])


@tagged("post_install", "-at_install")
class TestCentralAcl(BaseCase):
    def test_each_plant_certificate_is_confined_to_its_own_topics(self):
        text = bridge.central_acl(
            [inputs(), inputs(code="p02-mes", plant="P02", client_id=None)], odoo_users=["odoo", "odoo", None]
        )
        blocks = {}
        current = None
        for line in text.splitlines():
            if line.startswith("user "):
                current = blocks.setdefault(line[5:], [])
            elif line.startswith("topic "):
                self.assertIsNotNone(current, f"{line!r} would apply to anonymous clients")
                current.append(line)
        self.assertEqual(blocks["odoo"], ["topic readwrite #"])
        self.assertEqual(
            blocks["plant-p01-mes"],
            [
                "topic write mfg/P01/mes/+",
                "topic write mfg/P01/mes/edge/#",
                "topic write mfg/P01/mes/files/#",
                "topic write mfg/P01/mes/bridge/state",
                "topic read mfg/P01/mes/odoo/#",
            ],
        )
        self.assertEqual(blocks["plant-p02-mes"][0], "topic write mfg/P02/mes/+")
        self.assertEqual(blocks["plant-p02-mes"][-1], "topic read mfg/P02/mes/odoo/#")
        self.assertIn("use_identity_as_username true", text)

    def test_without_an_odoo_user_says_so_and_bad_names_are_named(self):
        text = bridge.central_acl([inputs()])
        self.assertIn("Odoo connects without a user name", text)
        self.assertNotIn("topic readwrite", text)
        with self.assertRaisesRegex(ValueError, "Broker user of Odoo 'odoo admin'"):
            bridge.central_acl([inputs()], odoo_users=["odoo admin"])
        with self.assertRaisesRegex(ValueError, "appears twice"):
            bridge.central_acl([inputs(), inputs(code="p01-qms")])
        with self.assertRaisesRegex(ValueError, "Plant code of backend p01-mes 'P/1'"):
            bridge.central_acl([inputs(plant="P/1")])


@tagged("post_install", "-at_install")
class TestBridgeButton(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="bridge-manager", groups="base.group_user,mfg_integration_base.group_mfg_manager"
        )
        cls.user = new_test_user(
            cls.env, login="bridge-user", groups="base.group_user,mfg_integration_base.group_mfg_user"
        )
        cls.backend = cls.env["mfg.backend"].create(
            {
                "name": "Bridge plant MES",
                "code": "br-mes",
                "plant_code": "BR1",
                "system_kind": "mes",
                "mqtt_bridge_address": "central.example.com:8883",
                "mqtt_bridge_outage_hours": 2,
                "mqtt_bridge_rate": 10,
            }
        )

    def test_manager_gets_the_text_and_an_attachment(self):
        action = self.backend.with_user(self.manager).action_mqtt_bridge_config()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        self.assertIn("topic mfg/BR1/mes/+ out 1", wizard.config_text)
        self.assertIn("topic mfg/BR1/mes/odoo/# in 1", wizard.config_text)
        self.assertIn("max_queued_messages 90000", wizard.config_text)  # 2 x 3600 x 10 x 1.25
        self.assertEqual(wizard.attachment_id.res_id, self.backend.id)
        self.assertEqual(base64.b64decode(wizard.attachment_id.datas).decode(), wizard.config_text)
        self.assertIn(
            f"/web/content/{wizard.attachment_id.id}", wizard.with_user(self.manager).action_download()["url"]
        )
        # generated again: the same attachment, updated
        self.backend.mqtt_bridge_rate = 20
        action = self.backend.with_user(self.manager).action_mqtt_bridge_config()
        again = self.env[action["res_model"]].browse(action["res_id"])
        self.assertEqual(again.attachment_id, wizard.attachment_id)
        self.assertIn("max_queued_messages 180000", base64.b64decode(again.attachment_id.datas).decode())

    def test_only_managers(self):
        with self.assertRaises(AccessError):
            self.backend.with_user(self.user).action_mqtt_bridge_config()
        with self.assertRaises(AccessError):
            self.backend.with_user(self.user)._mfg_mqtt_bridge_config()

    def test_missing_address_is_a_clear_error(self):
        self.backend.mqtt_bridge_address = False
        with self.assertRaisesRegex(UserError, "Central broker address"):
            self.backend.with_user(self.manager).action_mqtt_bridge_config()

    def test_backends_of_two_plants_are_refused(self):
        other = self.backend.copy({"code": "br-other", "plant_code": "BR2"})
        with self.assertRaisesRegex(UserError, "several plants"):
            (self.backend | other).with_user(self.manager)._mfg_mqtt_bridge_config()

    def test_central_acl_covers_backends_of_several_plants_managers_only(self):
        other = self.backend.copy({"code": "br-other", "plant_code": "BR2", "mqtt_username": "odoo-centre"})
        text = (self.backend | other).with_user(self.manager)._mfg_mqtt_central_acl()
        self.assertIn("user plant-br-mes\ntopic write mfg/BR1/mes/+", text)
        self.assertIn("user plant-br-other\ntopic write mfg/BR2/mes/+", text)
        self.assertIn("user odoo-centre\ntopic readwrite #", text)
        with self.assertRaises(AccessError):
            self.backend.with_user(self.user)._mfg_mqtt_central_acl()
