from odoo.tests import tagged

from ..lib import genealogy
from .common import MfgTraceCase


@tagged("post_install", "-at_install")
class TestGenealogy(MfgTraceCase):
    def test_upstream_three_levels_exactly(self):
        a, b, c1, c3 = self.mo_a.name, self.mo_b.name, self.mo_c1.name, self.mo_c3.name
        self.assertEqual(
            self._shape(self.sn1._mfg_genealogy("upstream")),
            ("SN-1", (("SA-1", c1, 1.0, (("R-1", a, 4.0, ()),)),)),
        )
        self.assertEqual(
            self._shape(self.sn3._mfg_genealogy("upstream")),
            ("SN-3", (("SA-2", c3, 1.0, (("R-1", b, 2.0, ()), ("R-2", b, 2.0, ()))),)),
        )
        self.assertEqual(self._shape(self.r1._mfg_genealogy("upstream")), ("R-1", ()), "bought, not made")

    def test_downstream_to_customers_exactly(self):
        a, b = self.mo_a.name, self.mo_b.name
        c1, c2, c3 = self.mo_c1.name, self.mo_c2.name, self.mo_c3.name
        d1, d2 = self.d1.name, self.d2.name
        self.assertEqual(
            self._shape(self.r1._mfg_genealogy("downstream")),
            (
                "R-1",
                (
                    (
                        "SA-1",
                        a,
                        4.0,
                        (
                            ("SN-1", c1, 1.0, (), ((d1, "Customer A", 1.0),)),
                            ("SN-2", c2, 1.0, (), ((d2, "Customer B", 1.0),)),
                        ),
                    ),
                    ("SA-2", b, 2.0, (("SN-3", c3, 1.0, ()),)),
                ),
            ),
        )
        self.assertEqual(
            self._shape(self.r2._mfg_genealogy("downstream")),
            ("R-2", (("SA-2", b, 2.0, (("SN-3", c3, 1.0, ()),)),)),
        )
        tree = self.sn1._mfg_genealogy("downstream")
        self.assertEqual(tree["children"], [])
        self.assertEqual([(s["picking"], s["customer"]) for s in tree["shipments"]], [(d1, "Customer A")])

    def test_depth_bound(self):
        tree = self.r1._mfg_genealogy("downstream", max_depth=1)
        self.assertEqual([(n["lot"], n["children"]) for n in tree["children"]], [("SA-1", []), ("SA-2", [])])
        with self.assertRaisesRegex(ValueError, "max_depth must be a whole number from 1 to 100, not 0"):
            self.r1._mfg_genealogy("downstream", max_depth=0)
        with self.assertRaisesRegex(
            ValueError, "direction must be one of upstream, downstream, not 'sideways'"
        ):
            genealogy.reach(self.env.cr, self.r1.ids, "sideways")

    def test_cycle_terminates_and_is_marked(self):
        """Rework: SN-1's produced line is recorded as consumed into MO a, which made SA-1 from
        which SN-1 was made: a loop. The walk ends and the lot met again is marked."""
        self.env.flush_all()
        cr = self.env.cr
        produced_sa1 = self.mo_a.move_finished_ids.move_line_ids
        consumed_sn1_line = self.d1.move_line_ids  # any done line of SN-1 stands for a consumption here
        # Make the delivery line of SN-1 look like a consumption of MO a (raw move) and link it.
        cr.execute(
            "UPDATE stock_move SET raw_material_production_id = %s WHERE id = %s",
            (self.mo_a.id, consumed_sn1_line.move_id.id),
        )
        cr.execute(
            "INSERT INTO stock_move_line_consume_rel (consume_line_id, produce_line_id) VALUES (%s, %s)",
            (produced_sa1.id, consumed_sn1_line.id),
        )
        self.env.invalidate_all()
        depths = genealogy.reach(cr, self.sn1.ids, "upstream", 50)
        self.assertEqual(
            {self.env["stock.lot"].browse(k).name: v for k, v in depths.items()},
            {"SN-1": 0, "SA-1": 1, "R-1": 2},
        )
        tree = self.sn1._mfg_genealogy("upstream")
        sa1 = tree["children"][0]
        self.assertEqual(
            sorted((n["lot"], bool(n.get("cycle"))) for n in sa1["children"]),
            [("R-1", False), ("SN-1", True)],
        )

    def test_build_tree_is_model_free(self):
        edges = [
            genealogy.Edge(1, 2, 10, 1.0, 7),
            genealogy.Edge(2, 3, 11, 2.0, 8),
            genealogy.Edge(2, None, 12, 1.0, 9),
        ]
        tree = genealogy.build_tree(1, edges, 5)
        self.assertEqual([n["lot_id"] for n in genealogy.walk(tree)], [1, 2, 3, None])
        self.assertEqual(tree["children"][0]["children"][1]["production_id"], 12)
