from odoo.tests import tagged

from .common import MfgQualityCase


@tagged("post_install", "-at_install")
class TestQualityQuarantine(MfgQualityCase):
    """Held stock moved to the warehouse's quarantine location; what a user sees on held lots."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Location = cls.env["stock.location"]
        cls.shelf = Location.create({"name": "Shelf 1", "location_id": cls.stock.id, "usage": "internal"})
        cls.quarantine = Location.create(
            {"name": "Quarantine", "location_id": cls.warehouse.view_location_id.id, "usage": "internal"}
        )
        cls.env["stock.quant"]._update_available_quantity(cls.product, cls.shelf, 4, lot_id=cls.lot)

    def _qty(self, lot, location):
        return sum(
            self.env["stock.quant"]
            .search([("lot_id", "=", lot.id), ("location_id", "=", location.id)])
            .mapped("quantity")
        )

    def test_hold_moves_stock_to_quarantine_release_leaves_it(self):
        self.warehouse.mfg_quarantine_location_id = self.quarantine
        delivery = self._delivery(self.lot, 3)  # reserves 3 of L-100 in stock
        msg = self._receive(self.etype_hold, self._hold("h-q", "2026-03-01T10:00:00Z"))
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertEqual(self.lot.mfg_hold_state, "held")
        event = self.lot.mfg_hold_event_ids[:1]
        picking = event.quarantine_picking_ids
        self.assertEqual(len(picking), 1)
        self.assertEqual(
            (picking.state, picking.picking_type_id, picking.location_dest_id),
            ("done", self.warehouse.int_type_id, self.quarantine),
        )
        self.assertEqual(self._qty(self.lot, self.quarantine), 14, "10 from stock and 4 from its shelf")
        self.assertEqual(self._qty(self.lot, self.stock) + self._qty(self.lot, self.shelf), 0)
        self.assertEqual(self._qty(self.lot2, self.stock), 10, "other lots stay")
        # The delivery no longer points at the held lot: it reserved another one.
        self.assertNotIn(self.lot, delivery.move_line_ids.lot_id)
        self.assertEqual(delivery.move_line_ids.lot_id, self.lot2)
        self.assertEqual(sum(delivery.move_line_ids.mapped("quantity")), 3)
        # Holding again moves nothing; a release does not bring the stock back.
        self._receive(self.etype_hold, self._hold("h-q2", "2026-03-01T10:05:00Z"))
        self._receive(self.etype_release, self._release("r-q", "2026-03-01T11:00:00Z"))
        self._drain()
        self.assertEqual(self.lot.mfg_hold_state, "released")
        self.assertEqual(self._qty(self.lot, self.quarantine), 14)
        self.assertEqual(
            self.env["stock.picking"].search_count([("location_dest_id", "=", self.quarantine.id)]), 1
        )

    def test_no_quarantine_location_no_transfer(self):
        self.lot._mfg_set_hold("held", "Suspect")
        self.assertEqual(self.lot.mfg_hold_state, "held")
        self.assertFalse(self.lot.mfg_hold_event_ids.quarantine_picking_ids)
        self.assertEqual(self._qty(self.lot, self.stock), 10)
        self.assertFalse(
            self.env["stock.picking"].search_count([("location_dest_id", "=", self.quarantine.id)])
        )

    def test_held_lot_visible_on_lot_screens(self):
        self.lot._mfg_set_hold("held", "Suspect")
        Lot = self.env["stock.lot"]
        views = Lot.get_views([(False, "form"), (False, "list"), (False, "search")])["views"]
        form, listing, search = views["form"]["arch"], views["list"]["arch"], views["search"]["arch"]
        self.assertIn('name="web_ribbon"', form)
        self.assertIn("mfg_hold_state", form)
        for button in (
            "action_mfg_view_hold_history",
            "action_mfg_view_nonconformances",
            "action_mfg_view_inspection_requests",
        ):
            self.assertIn(button, form)
        self.assertIn("mfg_hold_state", listing)
        self.assertIn('name="mfg_held"', search)
        # The "Held" filter and the Held lots menu find exactly the held lot.
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_quality_connector.action_mfg_held_lots")
        self.assertIn("search_default_mfg_held", action["context"])
        held = Lot.search([("mfg_hold_state", "=", "held"), ("product_id", "=", self.product.id)])
        self.assertEqual(held, self.lot)
        history = self.lot.action_mfg_view_hold_history()
        self.assertEqual(
            self.env["mfg.lot.hold.event"].search(history["domain"]), self.lot.mfg_hold_event_ids
        )
        self.assertEqual(self.lot.mfg_hold_event_count, 1)

    def test_warehouse_and_product_forms_show_the_settings(self):
        wh_arch = self.env["stock.warehouse"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("mfg_quarantine_location_id", wh_arch)
        tmpl_arch = self.env["product.template"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("mfg_inspection_required", tmpl_arch)
        self.assertIn("mfg_hold_until_inspected", tmpl_arch)
