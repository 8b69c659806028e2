import json

from odoo.fields import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.mfg_integration_base.lib import contract

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesChange(MfgMesCase):
    def _changes(self, mo, backend=None):
        return self._outbound("work_order_change", key=mo.name, backend=backend)

    def assertValid(self, msg):
        data = json.loads(msg.payload)
        contract.validate(self.etype["work_order_change"].json_schema, data)
        return data

    def test_quantity_written_sends_change_to_released_backend(self):
        mo = self._mo()
        release = self._outbound("work_order_release", key=mo.name)
        mo.product_qty = 12
        change = self._changes(mo)
        self.assertEqual(len(change), 1)
        self.assertEqual(change.backend_id, self.backend)
        self.assertEqual(change.state, "queued")
        self.assertEqual(
            change.ordering_key, release.ordering_key, "same key as the release: applied after it"
        )
        self.assertEqual(change.correlation_id, mo.name)
        data = self.assertValid(change)
        self.assertEqual(
            (data["work_order"], data["change"], data["quantity"], data["uom"], data["reason"]),
            (mo.name, "quantity", 12, "Units", None),
        )
        self.assertIn(mo, change.record_ids.mapped(lambda r: self.env[r.res_model].browse(r.res_id)))
        # writing the same quantity again is no change
        mo.product_qty = 12
        self.assertEqual(len(self._changes(mo)), 1)

    def test_change_waits_behind_its_release(self):
        mo = self._mo()
        mo.product_qty = 12
        release = self._outbound("work_order_release", key=mo.name)
        change = self._changes(mo)
        self._drain("outbound")
        # The MES endpoint is unreachable: the release waits for its retry, the change behind it.
        self.assertEqual(release.state, "retrying")
        self.assertEqual(release.error_class, "transient")
        self.assertEqual(change.state, "queued")
        self.assertEqual(change.attempts, 0, "never sent before its release")

    def test_change_by_a_planner_without_integration_rights(self):
        planner = new_test_user(self.env, "mo-planner", groups="mrp.group_mrp_user,stock.group_stock_user")
        mo = self._mo()
        mo.with_user(planner).write({"product_qty": 9})
        mo.with_user(planner).action_cancel()
        changes = self._changes(mo)
        self.assertEqual([json.loads(m.payload)["change"] for m in changes], ["quantity", "cancel"])

    def test_change_quantity_wizard_with_reason(self):
        mo = self._mo()
        wizard = self.env["change.production.qty"].create(
            {"mo_id": mo.id, "product_qty": 8, "mfg_reason": "Customer order reduced"}
        )
        wizard.change_prod_qty()
        self.assertEqual(mo.product_qty, 8)
        resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        self.assertAlmostEqual(resin.product_uom_qty, 4, msg="components follow, as in mrp")
        change = self._changes(mo)
        self.assertEqual(len(change), 1)
        data = self.assertValid(change)
        self.assertEqual((data["quantity"], data["reason"]), (8, "Customer order reduced"))

    def test_cancel_sends_cancel(self):
        mo = self._mo()
        mo.with_context(mfg_change_reason="Line retooled").action_cancel()
        self.assertEqual(mo.state, "cancel")
        change = self._changes(mo)
        self.assertEqual(len(change), 1)
        data = self.assertValid(change)
        self.assertEqual((data["change"], data["quantity"], data["reason"]), ("cancel", 0, "Line retooled"))

    def test_no_change_when_not_released(self):
        # A second MES of the same plant with the change flow only never got the release.
        other = self.env["mfg.backend"].create(
            {
                "name": "Other MES",
                "code": "test-mes-2",
                "warehouse_id": self.warehouse.id,
                "flow_ids": [Command.create({"exchange_type_id": self.etype["work_order_change"].id})],
            }
        )
        mo = self._mo()
        mo.product_qty = 7
        self.assertEqual(len(self._changes(mo, backend=self.backend)), 1)
        self.assertFalse(self._changes(mo, backend=other))
        # An MO never released (release flow off when confirmed) sends no change at all.
        self.backend.flow_ids.filtered(
            lambda f: f.exchange_type_id == self.etype["work_order_release"]
        ).active = False
        unreleased = self._mo()
        self.assertFalse(self._outbound("work_order_release", key=unreleased.name))
        unreleased.product_qty = 3
        unreleased.action_cancel()
        self.assertFalse(self._changes(unreleased))
        # A draft MO is not released either.
        draft = self.env["mrp.production"].create(
            {"product_id": self.finished.id, "product_qty": 2, "bom_id": self.bom.id}
        )
        draft.product_qty = 4
        self.assertFalse(self._changes(draft))

    def test_no_change_without_change_flow(self):
        mo = self._mo()
        self.backend.flow_ids.filtered(
            lambda f: f.exchange_type_id == self.etype["work_order_change"]
        ).active = False
        mo.product_qty = 3
        self.assertFalse(self._changes(mo))

    def test_completion_with_backorder_sends_no_change(self):
        mo = self._mo()
        reference = mo.name
        completion = self._receive("production_completion", self._completion("p-1", mo, 4, final=False))
        self._drain()
        self.assertDone(completion)
        self.assertFalse(self._outbound("work_order_change", key=reference))

    def test_split_keeps_the_released_reference(self):
        mo = self._mo()
        reference = mo.name
        mo._split_productions({mo: [4, 6]})
        self.assertNotEqual(mo.name, reference, "mrp renames the split MO")
        change = self._outbound("work_order_change", key=reference)
        self.assertEqual(len(change), 1)
        data = self.assertValid(change)
        self.assertEqual((data["work_order"], data["quantity"]), (reference, 4))
