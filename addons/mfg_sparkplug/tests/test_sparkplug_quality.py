import json
import time
import unittest

from odoo.fields import Command
from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase
from odoo.addons.mfg_integration_base.transports.mqtt.claims import Services

from ..lib import codec
from ..transport.sparkplug_claim import SparkplugClaim
from .test_sparkplug_claim import Item, Recorder


@tagged("post_install", "-at_install")
class TestSparkplugQualityMeasurement(MfgPipelineCase):
    """A measurement metric, through the claim, the receive step and the drain, becomes an
    inspection result of the quality connector on the lot the running order produces (this
    addon does not depend on the quality connector: the test needs it installed)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        etype = cls.env["mfg.exchange.type"]._find("qms.inspection_result")
        if not etype:
            raise unittest.SkipTest("mfg_quality_connector is not installed")
        cls.backend = cls._create_backend(
            "Sparkplug quality",
            "sp-qual",
            etype,
            mqtt_enabled=True,
            sparkplug_enabled=True,
            sparkplug_group="G1",
            sparkplug_rule_ids=[
                Command.create(
                    {
                        "metric": "Quality/Diameter",
                        "kind": "measurement",
                        "characteristic": "DIA",
                        "has_lower_limit": True,
                        "lower_limit": 9.9,
                        "has_upper_limit": True,
                        "upper_limit": 10.1,
                        "measure_unit": "mm",
                    }
                )
            ],
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Shaft", "default_code": "SH-1", "is_storable": True, "tracking": "lot"}
        )
        cls.lot = cls.env["stock.lot"].create(
            {"name": "LOT-SH-7", "product_id": cls.product.id, "company_id": cls.env.company.id}
        )
        cls.mo_with_lot = cls._running_order("M1", cls.lot)
        cls.mo_without_lot = cls._running_order("M3", None)
        cls.env["mrp.workcenter"].create({"name": "Idle lathe", "code": "M2"})

    @classmethod
    def _running_order(cls, code, lot):
        workcenter = cls.env["mrp.workcenter"].create({"name": f"Lathe {code}", "code": code})
        bom = cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.product.product_tmpl_id.id,
                "product_qty": 1,
                "operation_ids": [
                    Command.create({"name": "Turn", "workcenter_id": workcenter.id, "time_cycle_manual": 1})
                ],
            }
        )
        production = cls.env["mrp.production"].create(
            {"product_id": cls.product.id, "product_qty": 10, "bom_id": bom.id}
        )
        production.action_confirm()
        if lot:
            production.lot_producing_id = lot
        production.workorder_ids.button_start()
        return production

    def setUp(self):
        super().setUp()
        settings = self.backend._mfg_mqtt_settings()
        self.claim = SparkplugClaim(
            self.backend.id, settings["claims"]["sparkplug"], Services(in_db=lambda fn: fn(self.env))
        )
        self.claim.client = Recorder()
        self.seq = 0
        self.claim.on_message(
            Item(
                "spBv1.0/G1/NBIRTH/L1",
                codec.payload(
                    [{"name": "bdSeq", "datatype": "UInt64", "value": 1}], seq=0, timestamp=1000
                ).SerializeToString(),
            )
        )

    def send(self, kind, device, value, timestamp):
        self.seq += 1
        metric = {"name": "Quality/Diameter", "datatype": "Double", "value": value}
        payload = codec.payload([metric], seq=self.seq, timestamp=timestamp).SerializeToString()
        self.claim.on_message(Item(f"spBv1.0/G1/{kind}/L1/{device}", payload))

    def flush(self):
        self.claim.last_flush = 0.0
        self.claim.tick(max(time.time(), self.claim.retry_at))

    def messages(self):
        return self.Message.search([("backend_id", "=", self.backend.id)], order="id")

    def test_measurements_become_one_inspection_result_on_the_running_lot(self):
        for device in ("M1", "M2", "M3"):
            self.send("DBIRTH", device, 10.0, 2000)
            self.send("DDATA", device, 10.2, 3000)  # above the upper limit: fail
            self.send("DDATA", device, 10.1, 4000)
        self.flush()
        messages = self.messages()
        self.assertEqual(len(messages), 3, messages.mapped("payload"))
        by_wc = {json.loads(m.headers)["workcenter"]: m for m in messages}
        good = by_wc["M1"]
        self.assertEqual(good.exchange_type_id.code, "qms.inspection_result")
        payload = json.loads(good.payload)
        self.assertEqual((payload["lot"], payload["product"]), ("LOT-SH-7", "SH-1"))
        self.assertEqual(payload["origin"], {"type": "production", "reference": self.mo_with_lot.name})
        # no running order / no lot: kept rejected, saying why
        self.assertEqual(by_wc["M2"].state, "rejected")
        self.assertIn("No manufacturing order is running", by_wc["M2"].error_message)
        self.assertEqual(by_wc["M3"].state, "rejected")
        self.assertIn(f"{self.mo_without_lot.name} (product", by_wc["M3"].error_message)
        self.assertIn("has no lot being produced", by_wc["M3"].error_message)

        self._drain()
        self.assertDone(good)
        inspection = self.env["mfg.quality.inspection"].search([("mfg_message_id", "=", good.id)])
        self.assertEqual(inspection.lot_id, self.lot)
        self.assertEqual(inspection.production_id, self.mo_with_lot)
        self.assertEqual(inspection.verdict, "fail")
        self.assertEqual(inspection.name, "sp:G1:L1:M1:Quality/Diameter:2000-4000")
        [line] = inspection.line_ids
        self.assertEqual((line.name, line.unit, line.result), ("DIA", "mm", "fail"))
        self.assertAlmostEqual(line.measured_value, 10.1)
        self.assertEqual((line.lower_limit, line.upper_limit), (9.9, 10.1))
        self.assertTrue(line.has_lower_limit and line.has_upper_limit)
        self.assertTrue(inspection.nonconformance_id)  # a failed result opens one (and holds the lot)

        # the same values redelivered add nothing; the next interval is a new result
        self.send("DDATA", "M1", 10.1, 4000)
        self.flush()
        self.assertEqual(len(self.messages()), 3)
        self.send("DDATA", "M1", 10.0, 5000)
        self.flush()
        new = self.messages() - messages
        self.assertEqual(len(new), 1)
        self.assertEqual(json.loads(new.payload)["verdict"], "pass")
