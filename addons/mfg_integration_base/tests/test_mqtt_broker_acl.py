"""The central broker's ACL per plant: the generator (transports/mqtt/broker_acl.py, no ORM) and
the backend list's button / ``odoo mfg_mqtt_acl`` inputs (managers only). That Mosquitto enforces
it is tests/test_broker_acl_e2e.py."""

import base64

from odoo.exceptions import AccessError, UserError
from odoo.tests import BaseCase, TransactionCase, new_test_user, tagged

from ..transports.mqtt import broker_acl


def plant(**over):
    values = {
        "code": "p01-mes",
        "identity": "plant-p01-mes",
        "topic_prefix": "mfg",
        "plant": "P01",
        "system": "mes",
        "client_id": "plant-p01-mes",
    }
    values.update(over)
    return values


PLANT_B = {"code": "p02-mes", "identity": "plant-p02-mes", "plant": "P02", "client_id": "plant-p02-mes"}


def blocks(text):
    """{user: [rule lines]} of the file; '' holds rules before any user (must stay empty)."""
    found = {"": []}
    user = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("user "):
            user = line[5:]
            found.setdefault(user, [])
        else:
            found[user].append(line)
    return found


@tagged("post_install", "-at_install")
class TestBrokerAclGenerator(BaseCase):
    def test_two_plants_each_on_its_own_topics_odoo_on_the_prefix(self):
        text = broker_acl.broker_acl([plant(), plant(**PLANT_B)], ["odoo-central"], ["spBv1.0/G1/#"])
        self.assertEqual(
            blocks(text),
            {
                "": [],
                "odoo-central": ["topic readwrite mfg/#", "topic readwrite spBv1.0/G1/#"],
                "plant-p01-mes": [
                    "topic write mfg/P01/mes/+",
                    "topic write mfg/P01/mes/edge/#",
                    "topic write mfg/P01/mes/files/#",
                    "topic write mfg/P01/mes/bridge/state",
                    "topic write $SYS/broker/connection/plant-p01-mes/state",
                    "topic read mfg/P01/mes/odoo/#",
                ],
                "plant-p02-mes": [
                    "topic write mfg/P02/mes/+",
                    "topic write mfg/P02/mes/edge/#",
                    "topic write mfg/P02/mes/files/#",
                    "topic write mfg/P02/mes/bridge/state",
                    "topic write $SYS/broker/connection/plant-p02-mes/state",
                    "topic read mfg/P02/mes/odoo/#",
                ],
            },
        )
        # the listener settings that make it apply, as comments
        self.assertIn("#   acl_file /etc/mosquitto/acl", text)
        self.assertIn("#   require_certificate true", text)
        self.assertIn("#   use_identity_as_username true", text)

    def test_shared_identity_shared_and_distinct_prefixes(self):
        backends = [
            plant(),
            # the same plant, another system, the same certificate: one user, both roots
            plant(code="p01-qms", system="quality", client_id="plant-p01-qms"),
            # a plant code that is a prefix of another's, and a prefix that is a prefix of another's
            plant(code="p1-mes", identity="plant-p1", plant="P0"),
            plant(code="x-mes", identity="plant-x", topic_prefix="mfg2", plant="P01"),
        ]
        found = blocks(broker_acl.broker_acl(backends, ["odoo-central", "odoo-central"], []))
        self.assertEqual(found["odoo-central"], ["topic readwrite mfg/#", "topic readwrite mfg2/#"])
        self.assertIn("topic read mfg/P01/quality/odoo/#", found["plant-p01-mes"])
        self.assertIn("topic write mfg/P01/mes/+", found["plant-p01-mes"])
        self.assertIn("topic write $SYS/broker/connection/plant-p01-qms/state", found["plant-p01-mes"])
        self.assertEqual(len(found["plant-p01-mes"]), 12)
        # levels are whole: P0 gets nothing of P01, mfg2's P01 nothing of mfg's
        self.assertTrue(
            all(
                "/P0/" in rule
                for rule in found["plant-p1"]
                if rule.startswith("topic ") and "$SYS" not in rule
            )
        )
        self.assertEqual([r for r in found["plant-x"] if "odoo" in r], ["topic read mfg2/P01/mes/odoo/#"])

    def test_injection_and_bad_values_are_refused_naming_field_and_value(self):
        cases = [
            ({"plant": "P01\nuser evil"}, "Plant code of backend p01-mes 'P01\\nuser evil'"),
            ({"plant": "P01\ntopic readwrite #"}, "Plant code of backend p01-mes"),
            ({"plant": "+"}, "Plant code of backend p01-mes '+'"),
            ({"system": "#"}, "System of backend p01-mes '#'"),
            ({"topic_prefix": "mfg/x"}, "Topic prefix of backend p01-mes 'mfg/x'"),
            ({"topic_prefix": "mfg "}, "Topic prefix of backend p01-mes 'mfg '"),
            ({"identity": "plant a"}, "Plant identity of backend p01-mes 'plant a'"),
            ({"identity": "plant\nuser odoo"}, "Plant identity of backend p01-mes"),
            ({"identity": ""}, "Plant identity of backend p01-mes ''"),
            ({"identity": "odoo-central"}, "it is also Odoo's identity"),
            ({"client_id": "c\nd"}, "Bridge client id of backend p01-mes"),
            ({"code": "p 01"}, "Backend code 'p 01'"),
        ]
        for over, expected in cases:
            with self.subTest(over=over), self.assertRaises(ValueError) as caught:
                broker_acl.broker_acl([plant(**over)], ["odoo-central"])
            self.assertIn(expected, str(caught.exception))
        for identities, topics, expected in [
            (["odoo central"], [], "Odoo's identity on the central broker 'odoo central'"),
            ([], [], "Odoo's identity on the central broker ''"),
            (["odoo-central"], ["spBv1.0/#/x"], "Topic of Odoo's identity 'spBv1.0/#/x'"),
            (["odoo-central"], ["spBv1.0/G 1/#"], "Topic of Odoo's identity 'spBv1.0/G 1/#'"),
            (["odoo-central"], ["a\ntopic readwrite #"], "Topic of Odoo's identity"),
        ]:
            with self.subTest(identities=identities, topics=topics), self.assertRaises(ValueError) as caught:
                broker_acl.broker_acl([plant()], identities, topics)
            self.assertIn(expected, str(caught.exception))
        with self.assertRaisesRegex(ValueError, "ACL file 'acl'"):
            broker_acl.broker_acl([plant()], ["odoo-central"], acl_path="acl")
        with self.assertRaisesRegex(ValueError, "no MQTT backend"):
            broker_acl.broker_acl([], ["odoo-central"])


@tagged("post_install", "-at_install")
class TestBrokerAclButton(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="acl-manager", groups="base.group_user,mfg_integration_base.group_mfg_manager"
        )
        cls.user = new_test_user(
            cls.env, login="acl-user", groups="base.group_user,mfg_integration_base.group_mfg_user"
        )
        Backend = cls.env["mfg.backend"].with_context(active_test=False)
        Backend.search([("mqtt_enabled", "=", True)]).write({"mqtt_enabled": False})
        cls.plant_a = Backend.create(
            {
                "name": "ACL plant A",
                "code": "acl-a",
                "plant_code": "PA",
                "system_kind": "mes",
                "mqtt_enabled": True,
                "mqtt_username": "odoo-listener",
            }
        )
        cls.plant_b = Backend.create(
            {
                "name": "ACL plant B",
                "code": "acl-b",
                "plant_code": "PB",
                "system_kind": "mes",
                "mqtt_enabled": True,
                "mqtt_bridge_identity": "plant-b.example.com",
            }
        )
        Backend.create({"name": "No MQTT", "code": "acl-none", "plant_code": "PN", "system_kind": "mes"})

    def test_manager_gets_the_file_of_every_mqtt_backend_and_an_attachment(self):
        action = self.plant_a.with_user(self.manager).action_mqtt_broker_acl()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        found = blocks(wizard.config_text)
        # the identity field, else plant-<code> (the bridge's client id, the CN the e2e test uses)
        self.assertIn("topic read mfg/PA/mes/odoo/#", found["plant-acl-a"])
        self.assertIn("topic write mfg/PB/mes/+", found["plant-b.example.com"])
        # Odoo's identity: the backends' Broker user
        self.assertEqual(found["odoo-listener"], ["topic readwrite mfg/#"])
        self.assertNotIn("PN", wizard.config_text, "a backend without MQTT is not on the central broker")
        self.assertEqual(base64.b64decode(wizard.attachment_id.datas).decode(), wizard.config_text)
        self.assertTrue(wizard.attachment_id.with_user(self.manager).datas, "the manager may download it")
        # generated again: still one attachment, the new text
        self.plant_b.plant_code = "PB2"
        action = self.plant_a.with_user(self.manager).action_mqtt_broker_acl()
        again = self.env[action["res_model"]].browse(action["res_id"])
        self.assertIn("mfg/PB2/mes/+", base64.b64decode(again.attachment_id.datas).decode())
        self.assertEqual(
            self.env["ir.attachment"].search_count(
                [
                    ("res_model", "=", "mfg.backend"),
                    ("res_id", "=", False),
                    ("name", "=", "mosquitto-central-acl.conf"),
                ]
            ),
            1,
        )

    def test_only_managers(self):
        with self.assertRaises(AccessError):
            self.plant_a.with_user(self.user).action_mqtt_broker_acl()
        with self.assertRaises(AccessError):
            self.env["mfg.backend"].with_user(self.user)._mfg_mqtt_broker_acl()

    def test_bad_identity_is_a_clear_error(self):
        self.plant_b.mqtt_bridge_identity = "plant b"
        with self.assertRaisesRegex(UserError, "Plant identity of backend acl-b 'plant b'"):
            self.plant_a.with_user(self.manager).action_mqtt_broker_acl()
        self.plant_b.mqtt_bridge_identity = "odoo-listener"
        with self.assertRaisesRegex(UserError, "it is also Odoo's identity"):
            self.plant_a.with_user(self.manager).action_mqtt_broker_acl()
