import json

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.lib import contract
from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase


@tagged("post_install", "-at_install")
class TestExampleFlow(MfgPipelineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ref = cls.env.ref
        cls.etype = {
            "weight": ref("mfg_example_flow.exchange_type_product_weight"),
            "request": ref("mfg_example_flow.exchange_type_weighing_request"),
        }
        cls.backend = cls._create_backend("Plant scales", "plant-scales", cls.etype.values())
        cls.product = cls.env["product.product"].create({"name": "Bracket", "default_code": "BR-1"})

    def _weight(self, message_id, product="BR-1", weight=0.25):
        return {
            "message_id": message_id,
            "sent_at": "2026-03-01T10:00:05Z",
            "product": product,
            "weight_kg": weight,
            "measured_at": "2026-03-01T11:00:00+01:00",
        }

    # ------------------------------------------------------------------ inbound
    def test_inbound_weight_is_applied(self):
        msg = self._receive("weight", self._weight("w-1"))
        self._drain()
        self.assertDone(msg)
        self.assertEqual(self.product.weight, 0.25)
        self.assertEqual(msg.record_ids.mapped("res_id"), self.product.ids)
        self.assertIn("at 2026-03-01 10:00:00 UTC", self._chatter(self.product)[0])

    def test_inbound_unknown_product_fails_as_mapping(self):
        msg = self._receive("weight", self._weight("w-2", product="NOPE"))
        self._drain()
        self.assertFailedWith(msg, "mapping", r"Unknown product code 'NOPE'")
        self.assertEqual(msg.error_path, "/product")

    # ------------------------------------------------------------------ outbound
    def test_outbound_request_is_queued(self):
        with self._outbox_trap() as trap:
            self.product.action_mfg_example_request_weighing()
        msg = trap.of("request")
        self.assertEqual((len(msg), msg.state, msg.ordering_key), (1, "queued", "BR-1"))
        data = json.loads(msg.payload)
        self.assertEqual((data["product"], data["name"], data["weight_kg"]), ("BR-1", "Bracket", None))
        contract.validate(self.etype["request"].json_schema, data)
        self.assertEqual(self.product.mfg_message_count, 1)
