from unittest.mock import patch

from odoo.fields import Command
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesBatches(MfgMesCase):
    """The facts of several manufacturing orders in one drain: the batch handlers apply each
    contract's messages of all the MOs together (one mark done for all completions), with the
    same effect as one at a time, and a bad message fails alone."""

    def _facts(self, mo, tag, lot="HL-1"):
        """Operation started, consumption (4 housings, 2500 g resin), 1 housing scrapped, completion
        of 4 units."""
        return [
            (
                "operation_status",
                self._base(f"{tag}-o", mo, operation="WC-1", status="started", at="2026-03-01T08:00:00Z"),
            ),
            (
                "material_consumption",
                self._consumption(f"{tag}-c", mo, ("HOUS-1", 4, "Units", lot), ("RES-1", 2500, "g")),
            ),
            ("scrap", self._base(f"{tag}-s", mo, product="HOUS-1", quantity=1, uom="Units", lot="HL-1")),
            ("production_completion", self._completion(f"{tag}-p", mo, 4, lot=f"PL-{tag}")),
        ]

    def _receive_interleaved(self, *fact_lists):
        """Receive the facts MO by MO, as a plant that finishes one order after the other."""
        msgs = {}
        for facts in fact_lists:
            for code, data in facts:
                msgs[data["message_id"]] = self._receive(code, data)
        return msgs

    def _drain_spying_mark_done(self):
        """One drain; returns the MO ids of every ``button_mark_done`` call."""
        Production = type(self.env["mrp.production"])
        original = Production.button_mark_done
        calls = []

        def spy(records):
            calls.append(sorted(records.ids))
            return original(records)

        with patch.object(Production, "button_mark_done", spy):
            self._drain()
        return calls

    def assertMoApplied(self, mo, finished_lot):
        self.assertEqual(mo.state, "done")
        self.assertAlmostEqual(mo.qty_produced, 4)
        self.assertEqual(mo.lot_producing_id.name, finished_lot)
        housing = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_lot and not m.scrapped)
        resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        self.assertEqual((housing.state, resin.state), ("done", "done"))
        self.assertAlmostEqual(housing.quantity, 4)
        self.assertEqual(housing.move_line_ids.lot_id, self.lot_c1)
        self.assertAlmostEqual(resin.quantity, 2.5, places=6, msg="2500 g, in kg")
        scrap = self.env["stock.scrap"].search([("production_id", "=", mo.id)])
        self.assertEqual((len(scrap), scrap.state, scrap.scrap_qty), (1, "done", 1))
        workorder = mo.workorder_ids
        self.assertEqual(workorder.state, "done")
        self.assertEqual(str(workorder.date_start), "2026-03-01 08:00:00", "started at the plant's time")
        self.assertEqual(len(workorder.time_ids.filtered(lambda t: t.date_start == workorder.date_start)), 1)

    def test_facts_of_several_mos_are_applied_together(self):
        mos = [self._mo(qty=4) for _i in range(3)]
        housing_before = self.comp_lot.with_context(lot_id=self.lot_c1.id).qty_available
        msgs = self._receive_interleaved(*(self._facts(mo, f"m{i}") for i, mo in enumerate(mos)))
        calls = self._drain_spying_mark_done()
        self.assertDone(*msgs.values())
        self.assertEqual(calls, [sorted(mo.id for mo in mos)], "one mark done for the three completions")
        for i, mo in enumerate(mos):
            self.assertMoApplied(mo, f"PL-m{i}")
            completion = msgs[f"m{i}-p"]
            self.assertIn(
                mo.id,
                completion.record_ids.filtered(lambda r: r.res_model == "mrp.production").mapped("res_id"),
            )
        self.assertAlmostEqual(
            self.comp_lot.with_context(lot_id=self.lot_c1.id).qty_available,
            housing_before - 3 * 5,
            msg="4 consumed and 1 scrapped per MO, each once",
        )

    @mute_logger(
        "odoo.addons.mfg_integration_base.pipeline.process", "odoo.addons.mfg_integration_base.pipeline.drain"
    )
    def test_a_bad_fact_fails_alone_and_holds_its_own_mo_only(self):
        mos = [self._mo(qty=4) for _i in range(3)]
        # MO 2's consumption names a lot that does not exist: a mapping failure.
        facts = [
            self._facts(mos[0], "m0"),
            self._facts(mos[1], "m1", lot="NO-SUCH-LOT"),
            self._facts(mos[2], "m2"),
        ]
        msgs = self._receive_interleaved(*facts)
        calls = self._drain_spying_mark_done()
        bad = msgs["m1-c"]
        self.assertEqual(bad.state, "failed")
        self.assertEqual(bad.error_path, "/lines/0/lot")
        self.assertIn("NO-SUCH-LOT", bad.error_message)
        self.assertEqual(msgs["m1-o"].state, "done", "MO 2's fact before the bad one is applied")
        for later in ("m1-s", "m1-p"):
            self.assertEqual((msgs[later].state, msgs[later].attempts), ("queued", 0), "MO 2 waits")
        for tag, mo in (("m0", mos[0]), ("m2", mos[2])):
            self.assertDone(msgs[f"{tag}-o"], msgs[f"{tag}-c"], msgs[f"{tag}-s"], msgs[f"{tag}-p"])
            self.assertMoApplied(mo, f"PL-{tag}")
        self.assertEqual(calls, [sorted([mos[0].id, mos[2].id])], "the other two still marked done together")
        self.assertEqual(mos[1].state, "progress", "MO 2 started, nothing after its bad fact applied")
        self.assertFalse(mos[1].move_raw_ids.filtered("manual_consumption"), "no MES consumption booked")
        self.assertFalse(self.env["stock.scrap"].search([("production_id", "=", mos[1].id)]))


@tagged("post_install", "-at_install")
class TestMesWorkorderDependencies(MfgMesCase):
    """mrp.workorder.mfg_needed_by_ids (the inverse of blocked_by_workorder_ids that spares the
    ORM a search per state change) keeps Odoo's work order dependencies right."""

    def _mo_with_two_dependent_operations(self):
        bom = self.bom.copy({"allow_operation_dependencies": True, "operation_ids": False})
        op1, op2 = self.env["mrp.routing.workcenter"].create(
            [
                {"name": "Cut", "workcenter_id": self.workcenter.id, "bom_id": bom.id, "sequence": 10},
                {"name": "Weld", "workcenter_id": self.workcenter.id, "bom_id": bom.id, "sequence": 20},
            ]
        )
        op2.blocked_by_operation_ids = op1
        mo = self._mo(qty=2, bom=bom)
        return mo, mo.workorder_ids.sorted("sequence")

    def test_finishing_an_operation_readies_the_one_it_blocks(self):
        mo, (wo1, wo2) = self._mo_with_two_dependent_operations()
        self.assertEqual(wo2.blocked_by_workorder_ids, wo1)
        self.assertEqual(wo1.mfg_needed_by_ids, wo2)
        self.assertEqual((wo1.state, wo2.state), ("ready", "pending"))
        msgs = [
            self._receive(
                "operation_status",
                self._base(f"o-{status}", mo, operation=wo1.sequence, status=status, at=at),
            )
            for status, at in (("started", "2026-03-01T08:00:00Z"), ("finished", "2026-03-01T08:30:00Z"))
        ]
        self._drain()
        self.assertDone(*msgs)
        self.assertEqual((wo1.state, wo2.state), ("done", "ready"), "wo2 follows wo1")

    def test_writing_the_mrp_inverse_is_seen(self):
        _mo, (wo1, wo2) = self._mo_with_two_dependent_operations()
        self.assertEqual(wo1.mfg_needed_by_ids, wo2)  # in the cache now
        wo1.needed_by_workorder_ids = [Command.clear()]
        self.assertFalse(wo1.mfg_needed_by_ids, "not the cached value")
        self.assertEqual(wo2.state, "ready", "no longer blocked")
        wo1.needed_by_workorder_ids = [Command.link(wo2.id)]
        self.assertEqual(wo1.mfg_needed_by_ids, wo2)
        self.assertEqual(wo2.state, "pending")
