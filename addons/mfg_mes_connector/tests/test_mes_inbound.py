from odoo.tests import tagged

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesInbound(MfgMesCase):
    # ------------------------------------------------------------------ material consumption
    def test_consumption_lot_tracked_and_grams(self):
        mo = self._mo()
        msg = self._receive(
            "material_consumption",
            self._consumption("c-1", mo, ("HOUS-1", 4, "Units", "HL-1"), ("RES-1", 2000, "g")),
        )
        self._drain()
        self.assertDone(msg)
        housing = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_lot)
        resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        self.assertTrue(housing.picked and resin.picked)
        self.assertEqual(housing.move_line_ids.lot_id, self.lot_c1)
        self.assertAlmostEqual(housing.quantity, 4)
        self.assertTrue(all(housing.move_line_ids.mapped("picked")))
        # 2000 g reported, the move is in kg
        self.assertEqual(resin.product_uom, self.kg)
        self.assertAlmostEqual(resin.quantity, 2.0)
        self.assertNotEqual(mo.state, "done", "consumption does not close the MO")
        self.assertIn(
            resin.id, msg.record_ids.filtered(lambda r: r.res_model == "stock.move").mapped("res_id")
        )

    def test_consumption_reports_add_up(self):
        mo = self._mo()
        m1 = self._receive("material_consumption", self._consumption("c-1", mo, ("RES-1", 1, "kg")))
        m2 = self._receive("material_consumption", self._consumption("c-2", mo, ("RES-1", 500, "g")))
        self._drain()
        self.assertDone(m1, m2)
        resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        self.assertAlmostEqual(resin.quantity, 1.5)

    def test_consumption_unknown_lot(self):
        mo = self._mo()
        msg = self._receive(
            "material_consumption", self._consumption("c-1", mo, ("HOUS-1", 1, "Units", "NOPE-9"))
        )
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertIn("NOPE-9", msg.error_message)
        self.assertEqual(msg.error_path, "/lines/0/lot")

    def test_consumption_missing_lot_for_tracked_component(self):
        mo = self._mo()
        msg = self._receive("material_consumption", self._consumption("c-1", mo, ("HOUS-1", 1, "Units")))
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_path, "/lines/0/lot")

    def test_unknown_product_code(self):
        mo = self._mo()
        msg = self._receive("material_consumption", self._consumption("c-1", mo, ("GHOST-7", 1, "Units")))
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_class, "mapping")
        self.assertIn("GHOST-7", msg.error_message)

    def test_unit_of_other_category(self):
        mo = self._mo()
        msg = self._receive("material_consumption", self._consumption("c-1", mo, ("RES-1", 1, "Units")))
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_path, "/lines/0/uom")

    def test_unknown_work_order(self):
        msg = self._receive(
            "material_consumption", self._consumption("c-1", "WH/MO/99999", ("RES-1", 1, "kg"))
        )
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertIn("WH/MO/99999", msg.error_message)

    def test_invalid_payload_rejected_with_path(self):
        mo = self._mo()
        msg = self._receive("material_consumption", self._consumption("c-1", mo, ("RES-1", -3, "kg")))
        self._drain()
        self.assertEqual(msg.state, "rejected")
        self.assertEqual(msg.error_path, "/lines/0/quantity")
        resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        self.assertFalse(resin.picked)

    def test_duplicate_message_applied_once(self):
        mo = self._mo()
        data = self._consumption("c-dup", mo, ("RES-1", 1, "kg"))
        first = self._receive("material_consumption", data)
        second = self._receive("material_consumption", data)
        self.assertEqual(first, second)
        self._drain()
        self.assertDone(first)
        self.assertEqual(self.Message.search_count([("external_id", "=", "c-dup")]), 1)
        resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        self.assertAlmostEqual(resin.quantity, 1.0)

    # ------------------------------------------------------------------ production completion
    def test_consumption_then_completion_in_one_drain(self):
        mo = self._mo()
        consumption = self._receive(
            "material_consumption",
            self._consumption("c-1", mo, ("HOUS-1", 10, "Units", "HL-1"), ("RES-1", 5200, "g")),
        )
        completion = self._receive("production_completion", self._completion("p-1", mo, 10))
        self._drain()
        self.assertDone(consumption, completion)
        self.assertEqual(mo.state, "done")
        self.assertAlmostEqual(mo.qty_produced, 10)
        self.assertEqual(mo.lot_producing_id.name, "PL-1")
        resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        housing = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_lot)
        self.assertEqual(resin.state, "done")
        self.assertAlmostEqual(resin.quantity, 5.2, msg="the MES-reported consumption is kept")
        self.assertEqual(housing.move_line_ids.lot_id, self.lot_c1)
        finished_lines = mo.move_finished_ids.filtered(lambda m: m.product_id == self.finished).move_line_ids
        self.assertEqual(finished_lines.lot_id.name, "PL-1")
        self.assertAlmostEqual(self.finished.with_context(lot_id=mo.lot_producing_id.id).qty_available, 10)

    def test_partial_completion_creates_backorder(self):
        mo = self._mo()
        self._receive(
            "material_consumption",
            self._consumption("c-1", mo, ("HOUS-1", 4, "Units", "HL-1"), ("RES-1", 2, "kg")),
        )
        completion = self._receive("production_completion", self._completion("p-1", mo, 4, final=False))
        self._drain()
        self.assertDone(completion)
        self.assertEqual(mo.state, "done")
        self.assertAlmostEqual(mo.qty_produced, 4)
        backorder = mo.procurement_group_id.mrp_production_ids - mo
        self.assertEqual(len(backorder), 1)
        self.assertAlmostEqual(backorder.product_qty, 6)
        self.assertIn(backorder.state, ("confirmed", "progress"))
        # what the MES consumed stays on the done MO; the backorder needs the rest
        housing = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_lot)
        self.assertEqual(housing.state, "done")
        self.assertAlmostEqual(housing.quantity, 4)
        bo_housing = backorder.move_raw_ids.filtered(lambda m: m.product_id == self.comp_lot)
        self.assertAlmostEqual(bo_housing.product_uom_qty, 6)
        self.assertFalse(bo_housing.picked)
        self.assertAlmostEqual(self.finished.qty_available, 4)
        linked = completion.record_ids.filtered(lambda r: r.res_model == "mrp.production").mapped("res_id")
        self.assertIn(backorder.id, linked)

    def test_partial_final_completion_no_backorder(self):
        mo = self._mo()
        completion = self._receive(
            "production_completion", self._completion("p-1", mo, 3, lot="HL-NEW", final=True)
        )
        self._drain()
        self.assertDone(completion)
        self.assertEqual(mo.state, "done")
        self.assertAlmostEqual(mo.qty_produced, 3)
        self.assertEqual(mo.procurement_group_id.mrp_production_ids, mo)

    def test_completion_grams_to_kg(self):
        mo = self._mo(product=self.paste, qty=5, bom=self.bom_paste)
        completion = self._receive(
            "production_completion", self._completion("p-1", mo, 2500, uom="g", lot=None, final=True)
        )
        self._drain()
        self.assertDone(completion)
        self.assertEqual(mo.state, "done")
        self.assertEqual(mo.product_uom_id, self.kg)
        self.assertAlmostEqual(mo.qty_produced, 2.5)

    def test_completion_of_done_mo_fails(self):
        mo = self._mo()
        m1 = self._receive("production_completion", self._completion("p-1", mo, 10))
        m2 = self._receive("production_completion", self._completion("p-2", mo, 10))
        self._drain()
        self.assertDone(m1)
        self.assertEqual(m2.state, "failed")
        self.assertIn(mo.name, m2.error_message)

    # ------------------------------------------------------------------ progress
    def test_progress_adds_up_and_keeps_the_order_open(self):
        mo = self._mo(product=self.paste, qty=5, bom=self.bom_paste)
        mo.qty_producing = 5  # what starting an operation does: the reports replace it
        data = self._base("pg-1", mo, quantity=1.5, uom="kg")
        m1 = self._receive("production_progress", data)
        m2 = self._receive("production_progress", self._base("pg-2", mo, quantity=500, uom="g"))
        self._receive("production_progress", data)  # the same report again: applied once
        self._drain()
        self.assertDone(m1)
        self.assertDone(m2)
        self.assertEqual(mo.state, "progress")
        self.assertAlmostEqual(mo.qty_producing, 2.0)
        self.assertAlmostEqual(mo.mfg_progress_qty, 2.0)
        # the components follow the quantity producing, as on the form (1 kg of resin per kg)
        self.assertAlmostEqual(mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg).quantity, 2.0)
        # then a completion closes it with what the progress reports made
        done = self._receive("production_completion", self._completion("pc-1", mo, 2, uom="kg", lot=None))
        self._drain()
        self.assertDone(done)
        self.assertEqual(mo.state, "done")
        self.assertAlmostEqual(mo.qty_produced, 2.0)

    def test_progress_of_a_done_or_serial_order_fails_naming_it(self):
        mo = self._mo()
        self._receive("production_completion", self._completion("p-1", mo, 10))
        late = self._receive("production_progress", self._base("pg-1", mo, quantity=1, uom="Units"))
        self._drain()
        self.assertEqual(late.state, "failed")
        self.assertIn(mo.name, late.error_message)
        serial = self.env["product.product"].create(
            {"name": "Valve", "default_code": "VALVE-1", "is_storable": True, "tracking": "serial"}
        )
        bom = self.env["mrp.bom"].create({"product_tmpl_id": serial.product_tmpl_id.id, "product_qty": 1})
        mo2 = self._mo(product=serial, qty=3, bom=bom)
        message = self._receive("production_progress", self._base("pg-2", mo2, quantity=1, uom="Units"))
        self._drain()
        self.assertEqual(message.state, "failed")
        self.assertIn("mes.production_completion", message.error_message)

    # ------------------------------------------------------------------ scrap
    def test_scrap(self):
        mo = self._mo()
        msg = self._receive(
            "scrap",
            self._base("s-1", mo, product="HOUS-1", quantity=2, uom="Units", reason="DMG", lot="HL-1"),
        )
        self._drain()
        self.assertDone(msg)
        scrap = self.env["stock.scrap"].search([("production_id", "=", mo.id)])
        self.assertEqual(len(scrap), 1)
        self.assertEqual(scrap.state, "done")
        self.assertEqual(scrap.lot_id, self.lot_c1)
        self.assertEqual(scrap.scrap_reason_tag_ids, self.scrap_tag)
        self.assertAlmostEqual(scrap.scrap_qty, 2)

    def test_scrap_unknown_reason(self):
        mo = self._mo()
        msg = self._receive(
            "scrap", self._base("s-1", mo, product="RES-1", quantity=1, uom="kg", reason="WHAT")
        )
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertIn("WHAT", msg.error_message)

    # ------------------------------------------------------------------ downtime
    def test_downtime(self):
        mo = self._mo()
        msg = self._receive(
            "downtime",
            self._base(
                "d-1",
                mo,
                workcenter="WC-1",
                start="2026-03-02T09:00:00Z",
                end="2026-03-02T09:30:00+00:00",
                reason="BRK",
            ),
        )
        self._drain()
        self.assertDone(msg)
        line = self.env["mrp.workcenter.productivity"].search([("workcenter_id", "=", self.workcenter.id)])
        self.assertEqual(len(line), 1)
        self.assertEqual(line.loss_id, self.loss)
        self.assertEqual(line.workorder_id, mo.workorder_ids)
        self.assertAlmostEqual(line.duration, 30)

    def test_downtime_end_before_start(self):
        mo = self._mo()
        msg = self._receive(
            "downtime",
            self._base(
                "d-1",
                mo,
                workcenter="WC-1",
                start="2026-03-01T09:00:00Z",
                end="2026-03-01T08:00:00Z",
                reason="BRK",
            ),
        )
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_path, "/end")

    # ------------------------------------------------------------------ operation status
    def test_operation_status_start_pause_finish(self):
        mo = self._mo()
        wo = mo.workorder_ids
        self.assertEqual(len(wo), 1)
        msgs = [
            self._receive(
                "operation_status",
                self._base("o-1", mo, operation=wo.sequence, status="started", at="2026-03-01T08:00:00Z"),
            ),
            self._receive(
                "operation_status",
                self._base("o-2", mo, operation="WC-1", status="paused", at="2026-03-01T08:20:00Z"),
            ),
            self._receive(
                "operation_status",
                self._base("o-3", mo, operation="WC-1", status="resumed", at="2026-03-01T08:30:00Z"),
            ),
            self._receive(
                "operation_status",
                self._base("o-4", mo, operation="WC-1", status="finished", at="2026-03-01T08:50:00Z"),
            ),
        ]
        self._drain()
        self.assertDone(*msgs)
        self.assertEqual(wo.state, "done")
        self.assertEqual(str(wo.date_start), "2026-03-01 08:00:00")
        self.assertEqual(str(wo.date_finished), "2026-03-01 08:50:00")
        self.assertEqual(len(wo.time_ids), 2)
        self.assertAlmostEqual(sum(wo.time_ids.mapped("duration")), 40)

    def test_operation_status_unknown_operation(self):
        mo = self._mo()
        msg = self._receive(
            "operation_status",
            self._base("o-1", mo, operation=999, status="started", at="2026-03-01T08:00:00Z"),
        )
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_path, "/operation")
