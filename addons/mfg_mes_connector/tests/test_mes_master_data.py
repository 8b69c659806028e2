import json

from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.mfg_integration_base.lib import contract

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesMasterData(MfgMesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(cls.env, "mes-approver", groups="mrp.group_mrp_manager")
        cls.planner = new_test_user(cls.env, "mes-planner", groups="mrp.group_mrp_user")

    def _items(self, product):
        return self._outbound("item_master").filtered(
            lambda m: ("product.product", product.id)
            in m.record_ids.mapped(lambda r: (r.res_model, r.res_id))
        )

    def _boms(self, bom):
        return self._outbound("bom").filtered(
            lambda m: ("mrp.bom", bom.id) in m.record_ids.mapped(lambda r: (r.res_model, r.res_id))
        )

    def _data(self, msg, code):
        data = json.loads(msg.payload)
        contract.validate(self.etype[code].json_schema, data)
        return data

    def _mark_sent(self, msg):
        msg._mfg_write_outcome({"state": "done"})
        msg.invalidate_recordset()

    # ------------------------------------------------------------------ item master
    def test_item_master_queued_and_coalesced(self):
        (msg,) = self._items(self.finished)
        self.assertEqual(msg.state, "queued")
        self.assertEqual(msg.ordering_key, "item:PUMP-1")
        data = self._data(msg, "item_master")
        self.assertEqual(
            (data["product"], data["name"], data["uom"], data["tracking"], data["type"], data["active"]),
            ("PUMP-1", "Pump", "Units", "lot", "storable", True),
        )
        message_id = data["message_id"]
        # Further changes update the queued message in place (same message, same message id).
        self.finished.name = "Pump XL"
        self.finished.product_tmpl_id.tracking = "serial"
        self.finished.description = "not an item master field"
        self.assertEqual(self._items(self.finished), msg)
        data = self._data(msg, "item_master")
        self.assertEqual(
            (data["name"], data["tracking"], data["message_id"]), ("Pump XL", "serial", message_id)
        )
        # Once it was sent, a change queues a new message.
        self._mark_sent(msg)
        self.finished.default_code = "PUMP-2"
        items = self._items(self.finished)
        self.assertEqual(len(items), 2)
        self.assertEqual(items[1].state, "queued")
        self.assertEqual(self._data(items[1], "item_master")["product"], "PUMP-2")

    def test_item_master_waits_for_the_batch_drain(self):
        (msg,) = self._items(self.comp_kg)
        self.env.flush_all()
        self.backend._mfg_drain("outbound", "root.mfg")  # real-time drain: batch exchange types wait
        msg.invalidate_recordset()
        self.assertEqual(msg.state, "queued")
        self.backend._mfg_drain("outbound", "root.mfg", include_batch=True)  # the scheduled drain
        msg.invalidate_recordset()
        self.assertNotEqual(msg.state, "queued")
        self.assertEqual(msg.attempts, 1, "the batch drain tried to send it")

    def test_item_master_relevance(self):
        Product = self.env["product.product"]
        service = Product.create({"name": "Setup fee", "default_code": "SRV-1", "type": "service"})
        no_code = Product.create({"name": "Unnamed part", "is_storable": True})
        other_company = self.env["res.company"].create({"name": "Other plant company"})
        foreign = Product.create(
            {"name": "Foreign", "default_code": "FOR-1", "is_storable": True, "company_id": other_company.id}
        )
        self.assertFalse(self._items(service) | self._items(no_code) | self._items(foreign))
        # Created as a product template (variant created by Odoo, code written after): one item.
        gasket = self.env["product.template"].create(
            {"name": "Gasket", "default_code": "GSK-1", "is_storable": True}
        )
        self.assertEqual(
            self._data(self._items(gasket.product_variant_id), "item_master")["product"], "GSK-1"
        )
        # A code given later makes it an item.
        no_code.default_code = "PART-9"
        self.assertEqual(self._data(self._items(no_code), "item_master")["product"], "PART-9")
        # Categories narrow the item master of a backend (sub-categories included).
        parent = self.env["product.category"].create({"name": "MES materials"})
        child = self.env["product.category"].create({"name": "Resins", "parent_id": parent.id})
        self.backend.mes_item_categ_ids = parent
        inside = Product.create({"name": "Epoxy", "default_code": "EPX-1", "categ_id": child.id})
        outside = Product.create({"name": "Office chair", "default_code": "CHR-1"})
        self.assertEqual(len(self._items(inside)), 1)
        self.assertFalse(self._items(outside))

    def test_send_item_master_action_for_initial_load(self):
        (msg,) = self._items(self.comp_lot)
        self._mark_sent(msg)
        action = self.env.ref("mfg_mes_connector.action_product_template_mfg_mes_publish")
        templates = (self.comp_lot | self.comp_kg).product_tmpl_id
        action.with_context(active_model="product.template", active_ids=templates.ids).run()
        self.assertEqual(len(self._items(self.comp_lot)), 2, "sent again")
        self.assertEqual(len(self._items(self.comp_kg)), 1, "its queued message was refreshed")

    def test_item_master_uses_code_mapping(self):
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "MAT-RESIN",
                "target": f"product.product,{self.comp_kg.id}",
            }
        )
        self.comp_kg.name = "Resin B"
        data = self._data(self._items(self.comp_kg), "item_master")
        self.assertEqual((data["product"], data["uom"], data["name"]), ("MAT-RESIN", "kg", "Resin B"))

    # ------------------------------------------------------------------ BOM
    def test_bom_sent_only_once_approved(self):
        self.assertEqual(self.bom.mfg_approval_state, "draft")
        self.assertFalse(self._boms(self.bom))
        with self.assertRaises(AccessError):
            self.bom.with_user(self.planner).action_mfg_approve_for_mes()
        self.assertEqual(self.bom.mfg_approval_state, "draft")
        self.bom.with_user(self.approver).action_mfg_approve_for_mes()
        self.assertEqual(self.bom.mfg_approval_state, "approved")
        self.assertEqual(self.bom.mfg_approved_by_id, self.approver)
        self.assertTrue(self.bom.mfg_approved_on)
        (msg,) = self._boms(self.bom)
        self.assertEqual(msg.state, "queued")
        data = self._data(msg, "bom")
        self.assertEqual(
            (data["bom"], data["product"], data["quantity"], data["uom"]), ("PUMP-1", "PUMP-1", 1, "Units")
        )
        self.assertEqual(data["approved_by"], self.approver.name)
        comps = {c["component"]: (c["quantity"], c["uom"]) for c in data["components"]}
        self.assertEqual(comps, {"HOUS-1": (1, "Units"), "RES-1": (0.5, "kg")})
        self.assertEqual(
            data["operations"], [{"sequence": 10, "name": "Assemble", "workcenter": "WC-1", "duration": 6}]
        )

    def test_change_of_approved_bom_needs_new_approval(self):
        self.bom.with_user(self.approver).action_mfg_approve_for_mes()
        (msg,) = self._boms(self.bom)
        # Not a content change: stays approved.
        self.bom.ready_to_produce = "asap"
        self.assertEqual(self.bom.mfg_approval_state, "approved")
        # Component quantity (edited on the line itself): back to draft, nothing new sent.
        self.bom.bom_line_ids.filtered(lambda line: line.product_id == self.comp_kg).product_qty = 0.7
        self.assertEqual(self.bom.mfg_approval_state, "draft")
        self.assertFalse(self.bom.mfg_approved_by_id)
        self.assertEqual(self._boms(self.bom), msg)
        self.assertEqual(self._data(msg, "bom")["components"][1]["quantity"], 0.5, "the approved version")
        # Re-approved while the first message still waits: that message now carries the new version.
        self.bom.with_user(self.approver).action_mfg_approve_for_mes()
        self.assertEqual(self._boms(self.bom), msg)
        comps = {c["component"]: c["quantity"] for c in self._data(msg, "bom")["components"]}
        self.assertEqual(comps["RES-1"], 0.7)
        # Operations, components added through the form (BOM write), the BOM quantity.
        self._mark_sent(msg)
        changes = [
            lambda: self.bom.operation_ids.write({"time_cycle_manual": 9}),
            lambda: self.bom.write(
                {"bom_line_ids": [Command.create({"product_id": self.paste.id, "product_qty": 2})]}
            ),
            lambda: self.bom.write({"product_qty": 2}),
        ]
        for change in changes:
            self.bom.with_user(self.approver).action_mfg_approve_for_mes()
            change()
            self.assertEqual(self.bom.mfg_approval_state, "draft")
        self.bom.with_user(self.approver).action_mfg_approve_for_mes()
        msgs = self._boms(self.bom)
        self.assertEqual(len(msgs), 2, "one sent, one queued (later approvals coalesced)")
        data = self._data(msgs[1], "bom")
        self.assertEqual(data["quantity"], 2)
        self.assertEqual(data["operations"][0]["duration"], 9)
        self.assertIn("PASTE-1", [c["component"] for c in data["components"]])

    def test_bom_with_uncoded_work_center_cannot_be_approved(self):
        bare = self.env["mrp.workcenter"].create({"name": "Paint booth"})
        self.bom_paste.operation_ids = [Command.create({"name": "Paint", "workcenter_id": bare.id})]
        with self.assertRaisesRegex(UserError, "Paint booth"):
            self.bom_paste.with_user(self.approver).action_mfg_approve_for_mes()
        self.assertEqual(self.bom_paste.mfg_approval_state, "draft")
        self.assertFalse(self._boms(self.bom_paste))
        # A code mapping is enough.
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "workcenter",
                "external_code": "PAINT",
                "target": f"mrp.workcenter,{bare.id}",
            }
        )
        self.bom_paste.with_user(self.approver).action_mfg_approve_for_mes()
        self.assertEqual(
            self._data(self._boms(self.bom_paste), "bom")["operations"][0]["workcenter"], "PAINT"
        )

    def test_bom_not_sent_without_flow_or_to_another_plant(self):
        self.backend.flow_ids.filtered(lambda f: f.exchange_type_id == self.etype["bom"]).active = False
        self.bom.with_user(self.approver).action_mfg_approve_for_mes()
        self.assertEqual(self.bom.mfg_approval_state, "approved")
        self.assertFalse(self._boms(self.bom))
        self.backend.flow_ids.filtered(lambda f: f.exchange_type_id == self.etype["bom"]).active = True
        other = self.env["stock.warehouse"].create({"name": "Plant 2", "code": "PL2"})
        self.bom_paste.picking_type_id = other.manu_type_id
        self.bom_paste.with_user(self.approver).action_mfg_approve_for_mes()
        self.assertFalse(self._boms(self.bom_paste))
