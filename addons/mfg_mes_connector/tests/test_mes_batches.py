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
class TestMesShopFloorBatches(MfgMesCase):
    """Downtime and production progress of several MOs in one drain: one batch handler call per
    contract, the same effect as the one-at-a-time handler on each item in turn, and a bad
    report fails alone."""

    def _downtime(self, message_id, mo, start="2026-03-02T09:00:00Z", end="2026-03-02T09:30:00Z"):
        return self._base(message_id, mo, workcenter="WC-1", start=start, end=end, reason="BRK")

    def _progress(self, message_id, mo, quantity, uom="kg"):
        return self._base(message_id, mo, quantity=quantity, uom=uom)

    def _paste_mo(self):
        mo = self._mo(product=self.paste, qty=5, bom=self.bom_paste)
        mo.qty_producing = 5  # what starting an operation does: the reports replace it
        return mo

    def _drain_spying(self, method):
        """One drain; returns the number of items of each call of the batch handler ``method``."""
        Handlers = type(self.env["mfg.mes.handlers"])
        original = getattr(Handlers, method)
        calls = []

        def spy(records, items):
            calls.append(len(items))
            return original(records, items)

        with patch.object(Handlers, method, spy):
            self._drain()
        return calls

    def _line_facts(self, line):
        return (line.workcenter_id, line.loss_id, line.date_start, line.date_end, line.duration)

    def test_downtime_of_several_mos_in_one_call_as_one_at_a_time(self):
        handlers = self.env["mfg.mes.handlers"]
        twins = [(self._mo(), self._mo()) for _i in range(3)]
        times = (("09:00", "09:30"), ("10:00", "10:45"), ("11:15", "11:30"))

        def facts(tag, which):
            return [
                self._downtime(
                    f"{tag}-{i}", pair[which], start=f"2026-03-02T{t0}:00Z", end=f"2026-03-02T{t1}:00Z"
                )
                for i, (pair, (t0, t1)) in enumerate(zip(twins, times, strict=True))
            ]

        batch_facts, single_facts = facts("db", 0), facts("ds", 1)
        batch_msgs = self._receive("downtime", *batch_facts)
        single_msgs = self._receive("downtime", *single_facts)
        batch = handlers._mfg_batch_mes_downtime(list(zip(batch_msgs, batch_facts, strict=True)))
        single = [
            handlers._mfg_handle_mes_downtime(m, d) for m, d in zip(single_msgs, single_facts, strict=True)
        ]
        self.assertEqual(len(batch), 3)
        for (mo_a, mo_b), (prod_a, line_a), (prod_b, line_b) in zip(twins, batch, single, strict=True):
            self.assertEqual((prod_a, prod_b), (mo_a, mo_b))
            self.assertEqual(line_a.workorder_id, mo_a.workorder_ids)
            self.assertEqual(line_a.description, mo_a.name)
            self.assertEqual(self._line_facts(line_a), self._line_facts(line_b))
        self.assertEqual([round(line.duration) for _p, line in batch], [30, 45, 15])

    @mute_logger(
        "odoo.addons.mfg_integration_base.pipeline.process", "odoo.addons.mfg_integration_base.pipeline.drain"
    )
    def test_downtime_drain_one_call_and_a_bad_one_fails_alone(self):
        mos = [self._mo() for _i in range(3)]
        good = self._receive("downtime", self._downtime("d-0", mos[0]), self._downtime("d-2", mos[2]))
        self.assertEqual(self._drain_spying("_mfg_batch_mes_downtime"), [2], "one call for both MOs")
        self.assertDone(*good)
        msgs = self._receive(
            "downtime",
            self._downtime("d-3", mos[0], start="2026-03-03T09:00:00Z", end="2026-03-03T09:10:00Z"),
            self._downtime("d-4", mos[1], start="2026-03-03T09:00:00Z", end="2026-03-03T08:00:00Z"),
            self._downtime("d-5", mos[2], start="2026-03-03T09:00:00Z", end="2026-03-03T09:20:00Z"),
        )
        self._drain()
        self.assertDone(msgs[0], msgs[2])
        self.assertEqual((msgs[1].state, msgs[1].error_path), ("failed", "/end"))
        Line = self.env["mrp.workcenter.productivity"]
        for mo, minutes in ((mos[0], [30, 10]), (mos[1], []), (mos[2], [30, 20])):
            lines = Line.search([("workorder_id", "=", mo.workorder_ids.id)], order="date_start")
            self.assertEqual([round(line.duration) for line in lines], minutes, mo.name)

    def test_progress_of_several_mos_in_one_call_as_one_at_a_time(self):
        handlers = self.env["mfg.mes.handlers"]
        twins = [(self._paste_mo(), self._paste_mo()) for _i in range(3)]
        quantities = ((1.5, "kg"), (500, "g"), (2, "kg"))
        batch_facts = [
            self._progress(f"pb-{i}", pair[0], *q)
            for i, (pair, q) in enumerate(zip(twins, quantities, strict=True))
        ]
        single_facts = [
            self._progress(f"ps-{i}", pair[1], *q)
            for i, (pair, q) in enumerate(zip(twins, quantities, strict=True))
        ]
        batch_msgs = self._receive("production_progress", *batch_facts)
        single_msgs = self._receive("production_progress", *single_facts)
        batch = handlers._mfg_batch_mes_production_progress(list(zip(batch_msgs, batch_facts, strict=True)))
        single = [
            handlers._mfg_handle_mes_production_progress(m, d)
            for m, d in zip(single_msgs, single_facts, strict=True)
        ]
        self.assertEqual(batch, [[a] for a, _b in twins])
        self.assertEqual(single, [[b] for _a, b in twins])
        for (mo_a, mo_b), expected in zip(twins, (1.5, 0.5, 2.0), strict=True):
            for mo in (mo_a, mo_b):
                resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
                self.assertEqual(mo.state, "progress")
                self.assertAlmostEqual(mo.mfg_progress_qty, expected)
                self.assertAlmostEqual(mo.qty_producing, expected)
                self.assertAlmostEqual(resin.quantity, expected, msg="the component follows, 1 kg per kg")

    def test_progress_twice_on_one_mo_in_a_batch_adds_up(self):
        mo = self._paste_mo()
        facts = [self._progress("pt-1", mo, 1.5), self._progress("pt-2", mo, 250, "g")]
        msgs = self._receive("production_progress", *facts)
        self.env["mfg.mes.handlers"]._mfg_batch_mes_production_progress(list(zip(msgs, facts, strict=True)))
        self.assertAlmostEqual(mo.mfg_progress_qty, 1.75)
        self.assertAlmostEqual(mo.qty_producing, 1.75)
        resin = mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)
        self.assertAlmostEqual(resin.quantity, 1.75)

    @mute_logger(
        "odoo.addons.mfg_integration_base.pipeline.process", "odoo.addons.mfg_integration_base.pipeline.drain"
    )
    def test_progress_drain_one_call_and_a_bad_one_fails_alone(self):
        mos = [self._paste_mo() for _i in range(3)]
        good = self._receive(
            "production_progress", self._progress("g-0", mos[0], 1), self._progress("g-2", mos[2], 2)
        )
        self.assertEqual(
            self._drain_spying("_mfg_batch_mes_production_progress"), [2], "one call for both MOs"
        )
        self.assertDone(*good)
        msgs = self._receive(
            "production_progress",
            self._progress("g-3", mos[0], 0.5),
            self._progress("g-4", mos[1], 0.0001),  # rounds to zero in kg
            self._progress("g-5", mos[2], 1),
        )
        self._drain()
        self.assertDone(msgs[0], msgs[2])
        self.assertEqual((msgs[1].state, msgs[1].error_path), ("failed", "/quantity"))
        self.assertEqual([mo.mfg_progress_qty for mo in mos], [1.5, 0, 3])
        self.assertEqual([mo.qty_producing for mo in mos], [1.5, 5, 3], "the bad report changed nothing")


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
