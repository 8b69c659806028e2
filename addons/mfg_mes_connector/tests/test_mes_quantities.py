from odoo.tests import tagged

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesQuantities(MfgMesCase):
    """A reported quantity is booked exactly, refused naming the rounding to configure, or
    (backend tolerance) booked rounded with the difference recorded on the message: never
    changed silently (issue 12 item 4). RES-1 is stocked in kg."""

    def setUp(self):
        super().setUp()
        self.precision = self.env.ref("product.decimal_product_uom")
        # Odoo's defaults: kg rounds to 0.01, quantities keep 2 digits.
        self.kg.rounding = 0.01
        self.precision.digits = 2

    def _exact_kg(self):
        """The configuration that represents grams in kg: kg rounding 0.001, 3 digits."""
        self.kg.rounding = 0.001
        self.precision.digits = 3

    def _resin_move(self, mo):
        return mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)

    def _resin_on_hand(self):
        return self.comp_kg.with_context(location=self.stock.id).qty_available

    def assertRefused(self, msg, path, *texts):
        self.assertEqual(msg.state, "failed", msg.error_message)
        self.assertEqual(msg.error_class, "business")
        self.assertEqual(msg.error_path, path)
        for text in texts:
            self.assertIn(text, msg.error_message)
        self.assertTrue(msg.error_signature, "shown in Incidents")

    # ------------------------------------------------------------------ material consumption
    def test_grams_for_a_kg_component_refused_naming_the_unit_rounding(self):
        mo = self._mo()
        msg = self._receive("material_consumption", self._consumption("c-1", mo, ("RES-1", 2277, "g")))
        self._drain()
        self.assertRefused(
            msg,
            "/lines/0/quantity",
            "Quantity 2277 g of product [RES-1] Resin is 2.277 kg",
            "would book as 2.28 kg",
            "unit kg rounds to 0.01",
            "would change by 0.003 kg",
            "set the rounding precision of unit kg to 0.001 or finer",
            "'Product Unit of Measure' to 3 digits or more",
            "quantity rounding tolerance on backend test-mes",
        )
        self.assertFalse(self._resin_move(mo).picked, "nothing booked")
        self.assertEqual(self._resin_on_hand(), 100)

    def test_grams_refused_naming_the_decimal_precision(self):
        self.kg.rounding = 0.001  # the unit can, the decimal precision (2 digits) cannot
        mo = self._mo()
        msg = self._receive("material_consumption", self._consumption("c-1", mo, ("RES-1", 2277, "g")))
        self._drain()
        self.assertRefused(msg, "/lines/0/quantity", "'Product Unit of Measure' to 3 digits or more")
        self.assertNotIn("rounding precision of unit", msg.error_message)

    def test_grams_booked_exactly_in_kg_when_the_unit_allows(self):
        self._exact_kg()
        mo = self._mo()
        msg = self._receive("material_consumption", self._consumption("c-1", mo, ("RES-1", 2277, "g")))
        self._drain()
        self.assertDone(msg)
        self.assertEqual(self._resin_move(mo).quantity, 2.277)
        self.assertFalse(msg.quantity_rounding)

    def test_two_reports_of_grams_add_up_exactly_in_stock(self):
        mo = self._mo(product=self.paste, qty=2, bom=self.bom_paste)
        m1 = self._receive("material_consumption", self._consumption("c-1", mo, ("RES-1", 1037, "g")))
        m2 = self._receive("material_consumption", self._consumption("c-2", mo, ("RES-1", 1037, "g")))
        self._drain()
        # kg at 0.01 would make them 1.04 + 1.04 = 2.08 kg: refused (the second waits behind the
        # first, same work order), not 6 g lost.
        self.assertEqual((m1.state, m2.state), ("failed", "queued"))
        self.assertFalse(self._resin_move(mo).picked)
        self._exact_kg()
        (m1 | m2).action_retry()
        done = self._receive(
            "production_completion", self._completion("p-1", mo, 2, uom="kg", lot=None, final=True)
        )
        self._drain()
        self.assertDone(m1, m2, done)
        self.assertEqual(mo.state, "done")
        self.assertEqual(self._resin_move(mo).quantity, 2.074)
        self.assertEqual(self._resin_on_hand(), 97.926)

    def test_tolerance_books_rounded_and_records_the_difference(self):
        self.backend.quantity_tolerance = 0.5  # percent
        mo = self._mo()
        msg = self._receive("material_consumption", self._consumption("c-1", mo, ("RES-1", 2277, "g")))
        tiny = self._receive("material_consumption", self._consumption("c-2", mo, ("RES-1", 3, "g")))
        self._drain()
        self.assertDone(msg)
        self.assertEqual(self._resin_move(mo).quantity, 2.28)
        note = msg.quantity_rounding
        self.assertIn(
            "/lines/0/quantity: 2277 g of [RES-1] Resin booked as 2.28 kg instead of 2.277 kg", note
        )
        self.assertIn("difference 0.003 kg", note)
        self.assertIn("tolerance 0.5 %", note)
        self.assertIn("booked as 2.28 kg", msg.message_ids[0].body)
        found = self.Message.search(
            [("quantity_rounding", "!=", False), ("backend_id", "=", self.backend.id)]
        )
        self.assertEqual(found, msg, "the rounded message is found, the refused one is not")
        # 3 g would be booked as 0 kg: a 100 % change is beyond any sensible tolerance.
        self.assertRefused(tiny, "/lines/0/quantity", "would book as 0 kg")

    # ------------------------------------------------------------------ completion
    def test_completion_in_grams_refused_then_exact(self):
        mo = self._mo(product=self.paste, qty=5, bom=self.bom_paste)
        msg = self._receive(
            "production_completion", self._completion("p-1", mo, 2277, uom="g", lot=None, final=True)
        )
        self._drain()
        self.assertRefused(msg, "/quantity", "Quantity 2277 g of product [PASTE-1] Paste is 2.277 kg")
        self.assertNotEqual(mo.state, "done")
        self._exact_kg()
        msg.action_retry()
        self._drain()
        self.assertDone(msg)
        self.assertEqual(mo.qty_produced, 2.277)

    def test_completion_within_tolerance_is_recorded(self):
        self.backend.quantity_tolerance = 1
        mo = self._mo(product=self.paste, qty=5, bom=self.bom_paste)
        msg = self._receive(
            "production_completion", self._completion("p-1", mo, 2277, uom="g", lot=None, final=True)
        )
        self._drain()
        self.assertDone(msg)
        self.assertEqual(mo.qty_produced, 2.28)
        self.assertIn("/quantity: 2277 g of [PASTE-1] Paste booked as 2.28 kg", msg.quantity_rounding)

    # ------------------------------------------------------------------ scrap
    def test_scrap_in_grams_refused_then_exact(self):
        mo = self._mo()
        data = self._base("s-1", mo, product="RES-1", quantity=2277, uom="g", reason="DMG")
        msg = self._receive("scrap", data)
        self._drain()
        # The scrap keeps grams (exact), but the stock of kg would lose 0.003 kg.
        self.assertRefused(msg, "/quantity", "is 2.277 kg, which Odoo would book as 2.28 kg")
        self.assertFalse(self.env["stock.scrap"].search([("production_id", "=", mo.id)]))
        self._exact_kg()
        msg.action_retry()
        self._drain()
        self.assertDone(msg)
        scrap = self.env["stock.scrap"].search([("production_id", "=", mo.id)])
        self.assertEqual((scrap.scrap_qty, scrap.product_uom_id.name), (2277, "g"))
        self.assertEqual(self._resin_on_hand(), 97.723)

    def test_scrap_within_tolerance_is_recorded(self):
        self.backend.quantity_tolerance = 1
        mo = self._mo()
        msg = self._receive(
            "scrap", self._base("s-1", mo, product="RES-1", quantity=2277, uom="g", reason="DMG")
        )
        self._drain()
        self.assertDone(msg)
        self.assertEqual(self._resin_on_hand(), 97.72)
        self.assertIn("booked as 2.28 kg instead of 2.277 kg", msg.quantity_rounding)
