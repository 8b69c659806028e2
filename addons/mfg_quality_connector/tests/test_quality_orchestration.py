import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tests import Form, tagged

from odoo.addons.mfg_integration_base.lib import contract

from .common import MfgQualityCase


@tagged("post_install", "-at_install")
class TestQualityOrchestration(MfgQualityCase):
    """Inspection requests (erp.inspection_request) and the two orchestrations of issue #6:
    production-to-quality-release and deviation-to-corrective-action."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.panel = cls.env["product.product"].create(
            {
                "name": "Panel",
                "default_code": "PAN-1",
                "is_storable": True,
                "tracking": "lot",
                "mfg_inspection_required": True,
            }
        )
        cls.glue = cls.env["product.product"].create({"name": "Glue", "is_storable": True})
        cls.env["stock.quant"]._update_available_quantity(cls.glue, cls.stock, 100)
        cls.bom = cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.panel.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [Command.create({"product_id": cls.glue.id, "product_qty": 1})],
            }
        )

    # ------------------------------------------------------------------ helpers
    def _produce(self, lot_name, qty=4):
        """A manufacturing order of ``qty`` panels, lot ``lot_name``, marked done."""
        mo_form = Form(self.env["mrp.production"])
        mo_form.product_id = self.panel
        mo_form.bom_id = self.bom
        mo_form.product_qty = qty
        mo = mo_form.save()
        mo.action_confirm()
        lot = self.env["stock.lot"].create({"name": lot_name, "product_id": self.panel.id})
        with Form(mo) as form:
            form.qty_producing = qty
            form.lot_producing_id = lot
        mo.move_raw_ids.picked = True
        mo.button_mark_done()
        self.assertEqual(mo.state, "done")
        return mo, lot

    def _requests(self, lot):
        return self.env["mfg.inspection.request"].search([("lot_id", "=", lot.id)], order="id")

    def _request_messages(self, backend=None):
        return self.Message.search(
            [
                ("backend_id", "=", (backend or self.backend).id),
                ("exchange_type_id", "=", self.etype_request.id),
            ],
            order="id",
        )

    def _result(self, message_id, lot, verdict, correlation_id=None, at="2026-03-01T10:00:00Z"):
        data = self._inspection(
            message_id, verdict=verdict, lot=lot.name, at=at, product=lot.product_id.default_code
        )
        if correlation_id:
            data["correlation_id"] = correlation_id
        return data

    # ------------------------------------------------------------------ erp.inspection_request
    def test_mo_done_queues_one_request_per_lot_with_contract_payload(self):
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "QMS-PANEL",
                "target": f"product.product,{self.panel.id}",
            }
        )
        mo, lot = self._produce("P-001", qty=4)
        request = self._requests(lot)
        self.assertEqual(len(request), 1)
        self.assertEqual(
            (request.state, request.quantity, request.origin_type, request.production_id, request.backend_id),
            ("requested", 4.0, "production", mo, self.backend),
        )
        sent = self._request_messages()
        self.assertEqual(sent, request.outbound_message_id)
        self.assertEqual(
            (sent.direction, sent.state, sent.correlation_id), ("outbound", "queued", request.name)
        )
        payload = json.loads(sent.payload)
        contract.validate(self.etype_request.json_schema, payload)  # the contract it documents
        self.assertEqual(payload["lot"], "P-001")
        self.assertEqual(payload["product"], "QMS-PANEL", "the backend's product code")
        self.assertEqual((payload["quantity"], payload["uom"]), (4.0, self.panel.uom_id.name))
        self.assertEqual(payload["origin"], {"type": "production", "reference": mo.name})
        self.assertEqual(payload["correlation_id"], request.name)
        self.assertTrue(payload["requested_at"].endswith("Z"))
        self.assertFalse(lot.mfg_hold_state, "no hold awaiting inspection unless the product asks for it")

    def test_receipt_done_requests_each_lot_for_backends_of_that_warehouse(self):
        other_wh = self.env["stock.warehouse"].create({"name": "Second plant", "code": "WH2"})
        elsewhere = self.env["mfg.backend"].create(
            {
                "name": "QMS of plant 2",
                "code": "qms-2",
                "warehouse_id": other_wh.id,
                "flow_ids": [Command.create({"exchange_type_id": self.etype_request.id})],
            }
        )
        here = self.env["mfg.backend"].create(
            {
                "name": "LIMS of plant 1",
                "code": "lims-1",
                "warehouse_id": self.warehouse.id,
                "flow_ids": [Command.create({"exchange_type_id": self.etype_request.id})],
            }
        )
        suppliers = self.env.ref("stock.stock_location_suppliers")
        receipt = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.in_type_id.id,
                "location_id": suppliers.id,
                "location_dest_id": self.stock.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": p.name,
                            "product_id": p.id,
                            "product_uom_qty": 5,
                            "product_uom": p.uom_id.id,
                            "location_id": suppliers.id,
                            "location_dest_id": self.stock.id,
                        }
                    )
                    for p in (self.panel, self.product)  # Resin is not flagged
                ],
            }
        )
        receipt.action_confirm()
        lot_a = self.env["stock.lot"].create({"name": "R-A", "product_id": self.panel.id})
        lot_b = self.env["stock.lot"].create({"name": "R-B", "product_id": self.panel.id})
        panel_move = receipt.move_ids.filtered(lambda m: m.product_id == self.panel)
        panel_move.move_line_ids.unlink()
        for lot, qty in ((lot_a, 2), (lot_b, 3)):
            self.env["stock.move.line"].create(
                {
                    "move_id": panel_move.id,
                    "picking_id": receipt.id,
                    "product_id": self.panel.id,
                    "lot_id": lot.id,
                    "quantity": qty,
                    "product_uom_id": self.panel.uom_id.id,
                    "location_id": suppliers.id,
                    "location_dest_id": self.stock.id,
                }
            )
        resin_move = receipt.move_ids - panel_move
        resin_move.move_line_ids.write({"lot_id": self.lot.id, "quantity": 5})
        receipt.move_ids.picked = True
        receipt.button_validate()
        self.assertEqual(receipt.state, "done")

        requests = self.env["mfg.inspection.request"].search([("picking_id", "=", receipt.id)])
        self.assertEqual(len(requests), 4, "two lots x two backends (company-wide and this warehouse)")
        self.assertEqual(set(requests.backend_id.mapped("code")), {"test-qms", "lims-1"})
        self.assertEqual(
            sorted(
                (r.lot_id.name, r.quantity, r.origin_ref)
                for r in requests.filtered(lambda r: r.backend_id == here)
            ),
            [("R-A", 2.0, receipt.name), ("R-B", 3.0, receipt.name)],
        )
        self.assertEqual(len(set(requests.mapped("name"))), 4, "one correlation id each")
        self.assertFalse(self._request_messages(elsewhere), "a backend of another warehouse hears nothing")
        self.assertFalse(self._requests(self.lot), "products not flagged are not requested")
        payload = json.loads(self._request_messages(here)[0].payload)
        self.assertEqual(payload["origin"]["type"], "receipt")
        self.assertEqual(payload["warehouse"], self.warehouse.code)

    def test_receipt_validated_by_warehouse_user_holds_until_inspected(self):
        self.panel.mfg_hold_until_inspected = True
        clerk = self.env["res.users"].create(
            {
                "name": "Receiving clerk",
                "login": "clerk-q",
                "groups_id": [Command.set([self.env.ref("stock.group_stock_user").id])],
            }
        )
        suppliers = self.env.ref("stock.stock_location_suppliers")
        receipt = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.in_type_id.id,
                "location_id": suppliers.id,
                "location_dest_id": self.stock.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": "Panels",
                            "product_id": self.panel.id,
                            "product_uom_qty": 6,
                            "product_uom": self.panel.uom_id.id,
                            "location_id": suppliers.id,
                            "location_dest_id": self.stock.id,
                        }
                    )
                ],
            }
        )
        receipt.action_confirm()
        lot = self.env["stock.lot"].create({"name": "R-C", "product_id": self.panel.id})
        receipt.move_ids.move_line_ids.write({"lot_id": lot.id, "quantity": 6})
        receipt.move_ids.picked = True
        receipt.with_user(clerk).button_validate()
        self.assertEqual(receipt.state, "done")
        request = self._requests(lot)
        self.assertEqual(
            (request.origin_type, request.picking_id, request.quantity), ("receipt", receipt, 6.0)
        )
        self.assertEqual(lot.mfg_hold_state, "held")
        self.assertEqual(lot.mfg_hold_event_ids.user_id, clerk, "recorded with the user who validated")
        self.assertEqual(json.loads(request.outbound_message_id.payload)["origin"]["reference"], receipt.name)

    # ------------------------------------------------------------------ production-to-quality-release
    def test_production_to_quality_release_pass(self):
        _mo, lot = self._produce("P-100")
        request = self._requests(lot)
        self.assertEqual(self._request_messages().state, "queued", "request queued for the backend")
        msg = self._receive(self.etype_inspection, self._result("res-pass", lot, "pass", request.name))
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        inspection = self.env["mfg.quality.inspection"].search([("mfg_message_id", "=", msg.id)])
        self.assertEqual(inspection.request_id, request, "linked by the correlation id")
        self.assertEqual(
            (inspection.origin_type, inspection.production_id),
            ("production", request.production_id),
            "origin taken from the request when the result has none",
        )
        self.assertEqual((request.state, request.inspection_id), ("pass", inspection))
        self.assertNotEqual(lot.mfg_hold_state, "held")
        self.assertIn(
            ("mfg.inspection.request", request.id), [(r.res_model, r.res_id) for r in msg.record_ids]
        )
        delivery = self._delivery(lot, 2)
        delivery.button_validate()
        self.assertEqual(delivery.state, "done")

    def test_production_to_quality_release_fail_holds_and_blocks_delivery(self):
        _mo, lot = self._produce("P-200")
        request = self._requests(lot)
        delivery = self._delivery(lot, 2)
        msg = self._receive(self.etype_inspection, self._result("res-fail", lot, "fail", request.name))
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertEqual(request.state, "fail")
        self.assertEqual(lot.mfg_hold_state, "held")
        self.assertEqual(lot.mfg_hold_event_ids[:1].request_id, request)
        nc = lot.mfg_hold_nonconformance_id
        self.assertEqual(nc.inspection_id, request.inspection_id)
        with self.assertRaises(UserError) as caught:
            delivery.button_validate()
        self.assertIn("P-200", str(caught.exception))
        self.assertIn(nc.name, str(caught.exception))
        self.assertNotEqual(delivery.state, "done")

    def test_hold_until_inspected_released_by_passing_result(self):
        self.panel.mfg_hold_until_inspected = True
        quarantine = self.env["stock.location"].create(
            {"name": "Quarantine", "location_id": self.warehouse.view_location_id.id, "usage": "internal"}
        )
        self.warehouse.mfg_quarantine_location_id = quarantine
        _mo, lot = self._produce("P-300")
        request = self._requests(lot)
        self.assertTrue(request.hold_until_inspected)
        self.assertEqual(lot.mfg_hold_state, "held", "held awaiting inspection")
        self.assertIn(request.name, lot.mfg_hold_reason)
        self.assertEqual(lot.mfg_hold_event_ids.request_id, request)
        in_quarantine = self.env["stock.quant"].search(
            [("lot_id", "=", lot.id), ("location_id", "=", quarantine.id)]
        )
        self.assertEqual(sum(in_quarantine.mapped("quantity")), 4, "the new lot goes straight to quarantine")
        self.assertEqual(lot.mfg_hold_event_ids.quarantine_picking_ids.state, "done")
        self.assertTrue(json.loads(request.outbound_message_id.payload)["hold_until_inspected"])
        # Evaluated "before" Odoo's clock placed the hold: still the answer to it.
        msg = self._receive(
            self.etype_inspection,
            self._result("res-p3", lot, "pass", request.name, at="2026-01-01T00:00:00Z"),
        )
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertEqual(lot.mfg_hold_state, "released")
        self.assertIn("passed", lot.mfg_hold_reason)
        self.assertEqual(
            [p["status"] for p in map(json.loads, self._status_messages().mapped("payload"))],
            ["held", "released"],
        )

    def test_hold_until_inspected_failing_result_keeps_hold_with_nonconformance(self):
        self.panel.mfg_hold_until_inspected = True
        _mo, lot = self._produce("P-400")
        request = self._requests(lot)
        msg = self._receive(
            self.etype_inspection,
            self._result("res-f4", lot, "fail", request.name, at="2026-01-01T00:00:00Z"),
        )
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertEqual(lot.mfg_hold_state, "held")
        nc = lot.mfg_hold_nonconformance_id
        self.assertTrue(nc, "the failure's nonconformance becomes the hold's")
        self.assertIn(nc.name, lot._mfg_hold_blocking_text())
        self.assertIn("failed", lot.mfg_hold_reason)

    def test_result_correlated_to_another_lots_request_fails(self):
        _mo, lot = self._produce("P-500")
        request = self._requests(lot)
        msg = self._receive(self.etype_inspection, self._result("res-x", self.lot, "pass", request.name))
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertIn(request.name, msg.error_message)
        self.assertIn("P-500", msg.error_message)
        self.assertIn("L-100", msg.error_message)
        self.assertEqual(request.state, "requested")
        # An unknown correlation id is not ours: the result is stored without a request.
        other = self._receive(self.etype_inspection, self._result("res-y", self.lot2, "pass", "QMS-BATCH-9"))
        self._drain()
        self.assertEqual(other.state, "done", other.error_message)
        self.assertFalse(
            self.env["mfg.quality.inspection"].search([("mfg_message_id", "=", other.id)]).request_id
        )

    # ------------------------------------------------------------------ deviation-to-corrective-action
    def _nc(self, message_id, number, severity):
        return {
            "message_id": message_id,
            "nonconformance_id": number,
            "product": "RES-1",
            "lots": ["L-100"],
            "defect_code": "D9",
            "severity": severity,
        }

    def test_deviation_to_corrective_action_for_configured_quality_manager(self):
        manager = self.env["res.users"].create(
            {
                "name": "Quinn Quality",
                "login": "quinn-q",
                "groups_id": [Command.set([self.env.ref("base.group_user").id])],
            }
        )
        self.backend.mfg_quality_manager_id = manager
        msg = self._receive(self.etype_nc, self._nc("nc-c1", "NC-CRIT", "critical"))
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        nc = self.env["mfg.nonconformance"].search([("name", "=", "NC-CRIT")])
        self.assertEqual(nc.lot_ids, self.lot)
        activity = nc.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, manager)
        today = fields.Date.context_today(nc)
        self.assertEqual(activity.date_deadline, today + timedelta(days=1), "critical: due tomorrow")
        self.assertIn("NC-CRIT", activity.note)

    def test_deviation_default_manager_deadline_by_severity_and_escalation(self):
        manager = self.env["res.users"].create(
            {
                "name": "Ivy Integration",
                "login": "ivy-q",
                "groups_id": [Command.set([self.env.ref("mfg_integration_base.group_mfg_manager").id])],
            }
        )
        expected = self.env["mfg.nonconformance"].new({})._mfg_quality_manager()
        self.assertTrue(expected.has_group("mfg_integration_base.group_mfg_manager"))
        self.assertIn(manager, self.env.ref("mfg_integration_base.group_mfg_manager").users)
        self._receive(self.etype_nc, self._nc("nc-m1", "NC-MAJ", "major"))
        self._receive(self.etype_nc, self._nc("nc-n1", "NC-MIN", "minor"))
        self._drain()
        Nc = self.env["mfg.nonconformance"]
        major, minor = Nc.search([("name", "=", "NC-MAJ")]), Nc.search([("name", "=", "NC-MIN")])
        today = fields.Date.context_today(major)
        self.assertEqual(major.activity_ids.user_id, expected, "an Integration Manager by default")
        self.assertEqual(major.activity_ids.date_deadline, today + timedelta(days=7), "major: a week")
        self.assertFalse(minor.activity_ids, "minor: no corrective action activity")
        # Escalated to critical: the same activity, due sooner.
        self._receive(self.etype_nc, dict(self._nc("nc-m2", "NC-MAJ", "critical")))
        self._drain()
        self.assertEqual(len(major.activity_ids), 1)
        self.assertEqual(major.activity_ids.date_deadline, today + timedelta(days=1))
