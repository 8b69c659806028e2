from odoo.fields import Command
from odoo.tests import tagged

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesSerials(MfgMesCase):
    """Completion of a serial-tracked finished product: several serials in one message, or one
    message per unit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sensor = cls.env["product.product"].create(
            {"name": "Sensor", "default_code": "SEN-1", "is_storable": True, "tracking": "serial"}
        )
        cls.bom_sensor = cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.sensor.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create({"product_id": cls.comp_lot.id, "product_qty": 1}),
                    Command.create(
                        {"product_id": cls.comp_kg.id, "product_qty": 0.5, "product_uom_id": cls.kg.id}
                    ),
                ],
            }
        )

    def _sensor_mo(self, qty):
        return self._mo(product=self.sensor, qty=qty, bom=self.bom_sensor)

    def _serial_stock(self):
        quants = self.env["stock.quant"].search(
            [("product_id", "=", self.sensor.id), ("location_id", "=", self.stock.id), ("quantity", ">", 0)]
        )
        return sorted(quants.lot_id.mapped("name"))

    def _family(self, mo):
        return mo.procurement_group_id.mrp_production_ids

    def test_several_serials_in_one_message(self):
        mo = self._sensor_mo(3)
        reference = mo.name
        housing_before = self.comp_lot.qty_available
        msg = self._receive(
            "production_completion",
            self._base(
                "s-1", reference, quantity=3, uom="Units", serials=["SN-1", "SN-2", "SN-3"], final=True
            ),
        )
        self._drain()
        self.assertDone(msg)
        family = self._family(mo)
        self.assertEqual(len(family), 3, "one MO per serial, as Odoo's mass production")
        self.assertEqual(set(family.mapped("state")), {"done"})
        self.assertEqual(sorted(family.lot_producing_id.mapped("name")), ["SN-1", "SN-2", "SN-3"])
        self.assertEqual(self._serial_stock(), ["SN-1", "SN-2", "SN-3"])
        self.assertAlmostEqual(housing_before - self.comp_lot.qty_available, 3, msg="per BoM, once per unit")
        linked = set(msg.record_ids.filtered(lambda r: r.res_model == "stock.lot").mapped("res_id"))
        self.assertEqual(linked, set(family.lot_producing_id.ids))

    def test_serials_after_reported_consumption_not_consumed_twice(self):
        mo = self._sensor_mo(3)
        housing_before = self.comp_lot.qty_available
        resin_before = self.comp_kg.qty_available
        consumption = self._receive(
            "material_consumption",
            self._consumption("c-1", mo, ("HOUS-1", 3, "Units", "HL-1"), ("RES-1", 1600, "g")),
        )
        completion = self._receive(
            "production_completion",
            self._base("s-1", mo, quantity=3, uom="Units", serials=["SN-7", "SN-8", "SN-9"], final=True),
        )
        self._drain()
        self.assertDone(consumption, completion)
        self.assertEqual(self._serial_stock(), ["SN-7", "SN-8", "SN-9"])
        self.assertAlmostEqual(housing_before - self.comp_lot.qty_available, 3)
        self.assertAlmostEqual(resin_before - self.comp_kg.qty_available, 1.6, msg="what the MES reported")

    def test_some_serials_not_final_leaves_a_backorder(self):
        mo = self._sensor_mo(4)
        msg = self._receive(
            "production_completion",
            self._base("s-1", mo, quantity=2, uom="Units", serials=["SN-1", "SN-2"], final=False),
        )
        self._drain()
        self.assertDone(msg)
        family = self._family(mo)
        done = family.filtered(lambda p: p.state == "done")
        rest = family - done
        self.assertEqual(len(done), 2)
        self.assertEqual(len(rest), 1)
        self.assertAlmostEqual(rest.product_qty, 2)
        self.assertIn(rest.state, ("confirmed", "progress"))
        self.assertEqual(self._serial_stock(), ["SN-1", "SN-2"])

    def test_one_message_per_unit(self):
        mo = self._sensor_mo(3)
        reference = mo.name
        messages = [
            self._receive(
                "production_completion",
                self._completion(f"u-{n}", reference, 1, lot=f"SN-{n}", final=False),
            )
            for n in (1, 2, 3)
        ]
        self._drain()
        self.assertDone(*messages)
        family = self._family(mo)
        self.assertEqual(len(family), 3)
        self.assertEqual(set(family.mapped("state")), {"done"})
        self.assertEqual(self._serial_stock(), ["SN-1", "SN-2", "SN-3"])

    def test_serial_count_must_match_quantity(self):
        mo = self._sensor_mo(3)
        mismatch = self._receive(
            "production_completion",
            self._base("s-1", mo, quantity=3, uom="Units", serials=["SN-1", "SN-2"], final=True),
        )
        too_many = self._receive(
            "production_completion",
            self._base("s-2", mo, quantity=4, uom="Units", serials=["A", "B", "C", "D"], final=True),
        )
        self._drain()
        self.assertEqual(mismatch.state, "failed")
        self.assertEqual(mismatch.error_path, "/quantity")
        self.assertIn("2 serial number(s)", mismatch.error_message)
        self.assertEqual(mo.state, "confirmed")
        mismatch.action_discard("test")
        self._drain()
        too_many.invalidate_recordset()
        self.assertEqual(too_many.state, "failed")
        self.assertEqual(too_many.error_path, "/serials")

    def test_serials_on_lot_tracked_product_fail(self):
        mo = self._mo(qty=2)
        msg = self._receive(
            "production_completion",
            self._base("s-1", mo, quantity=2, uom="Units", serials=["X-1", "X-2"], final=True),
        )
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_path, "/serials")
