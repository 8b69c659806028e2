import json

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesRelease(MfgMesCase):
    def _release(self, mo):
        return self._outbound("work_order_release", key=mo.name)

    def test_confirm_puts_one_release_in_outbox(self):
        mo = self._mo()
        msg = self._release(mo)
        self.assertEqual(len(msg), 1)
        self.assertEqual(msg.backend_id, self.backend)
        self.assertEqual(msg.state, "queued")
        self.assertEqual(msg.correlation_id, mo.name)
        data = json.loads(msg.payload)
        self.assertEqual(data["work_order"], mo.name)
        self.assertEqual(data["product"], "PUMP-1")
        self.assertEqual(data["quantity"], 10)
        self.assertEqual(data["uom"], "Units")
        self.assertTrue(data["planned_start"].endswith("Z"))
        comps = {c["component"]: c for c in data["components"]}
        self.assertEqual(set(comps), {"HOUS-1", "RES-1"})
        self.assertEqual(comps["RES-1"]["quantity"], 5)
        self.assertEqual(comps["RES-1"]["uom"], "kg")
        self.assertEqual(comps["HOUS-1"]["lots"], ["HL-1"])
        (op,) = data["operations"]
        self.assertEqual(op["workcenter"], "WC-1")
        self.assertEqual(op["name"], "Assemble")
        self.assertAlmostEqual(op["duration_expected"], mo.workorder_ids.duration_expected)
        # the payload honours its own contract
        from odoo.addons.mfg_integration_base.lib import contract

        contract.validate(self.etype["work_order_release"].json_schema, data)

    def test_code_mapping_used_in_payload(self):
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "MES-PUMP",
                "target": f"product.product,{self.finished.id}",
            }
        )
        data = json.loads(self._release(self._mo()).payload)
        self.assertEqual(data["product"], "MES-PUMP")

    def test_no_release_without_flow_or_other_warehouse(self):
        self.backend.flow_ids.filtered(
            lambda f: f.exchange_type_id == self.etype["work_order_release"]
        ).active = False
        mo = self._mo()
        self.assertFalse(self._release(mo))
        with self.assertRaises(UserError):
            mo.action_mfg_release_to_mes()

    def test_no_release_for_backend_of_another_warehouse(self):
        other = self.env["stock.warehouse"].create({"name": "Plant 2", "code": "PL2"})
        self.backend.warehouse_id = other
        self.assertFalse(self._release(self._mo()))
        self.backend.warehouse_id = self.warehouse
        self.backend.active = False
        self.assertFalse(self._release(self._mo()))

    def test_release_button_sends_again(self):
        mo = self._mo()
        mo.action_mfg_release_to_mes()
        msgs = self._release(mo)
        self.assertEqual(len(msgs), 2)
        self.assertEqual(len(set(msgs.mapped(lambda m: json.loads(m.payload)["message_id"]))), 2)


@tagged("post_install", "-at_install")
class TestMesReleaseReferenceData(MfgMesCase):
    """A released work order as retained reference data: the broker keeps it on
    <prefix>/<plant>/mes/odoo/erp.work_order_release.v1/<MO name, percent-encoded> for an edge
    agent that connects later. Real Mosquitto (127.0.0.1:1883)."""

    def test_release_is_retained_under_the_work_order(self):
        from urllib.parse import quote

        from odoo.addons.mfg_integration_base.tests.mqtt_support import clear, retained, unique_prefix

        prefix = unique_prefix()
        self.backend.write({"mqtt_enabled": True, "mqtt_topic_prefix": prefix, "plant_code": "P1"})
        flow = self.backend.flow_ids.filtered(
            lambda f: f.exchange_type_id == self.etype["work_order_release"]
        )
        flow.write({"transport": "mqtt", "mqtt_retained": True})
        mo = self._mo()
        topic = f"{prefix}/P1/mes/odoo/erp.work_order_release.v1/{quote(mo.name, safe='')}"
        self.addCleanup(clear, topic)
        self._drain_all("outbound")
        self.assertDone(self._outbound("work_order_release", key=mo.name))
        payload, flag = retained(f"{prefix}/P1/mes/odoo/#")[topic]
        self.assertTrue(flag)
        self.assertEqual(json.loads(payload)["work_order"], mo.name)
