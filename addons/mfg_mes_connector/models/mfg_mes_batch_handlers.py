from odoo import models


class MfgMesBatchHandlers(models.AbstractModel):
    """Batch variants of the MES handlers (``_mfg_batch_<what>`` next to ``_mfg_handle_<what>``,
    see mfg_integration_base's ``mfg_handler_mixin.batch_method_name``).

    The drain gives each one the messages of one exchange type and of distinct ordering keys
    (work orders) it claimed, and calls it once in one savepoint. Each does what the
    one-at-a-time handler does for every message, with the same checks and the same results,
    but the Odoo operations that take many records (mark done, create, unlink, write) once for
    the batch. Should anything fail, the drain rolls the batch back and applies its messages
    again one at a time, so a bad message fails alone."""

    _inherit = "mfg.mes.handlers"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ production completion
    def _mfg_batch_mes_production_completion(self, items):
        """mes.production_completion.v1 for many MOs: one ``button_mark_done`` for the batch."""
        results = [None] * len(items)
        pending, families = [], set()

        def mark_done():
            for (index, _prepared), result in zip(
                pending, self._mfg_mes_mark_done([p for _i, p in pending]), strict=True
            ):
                results[index] = result
            pending.clear()
            families.clear()

        for index, (message, data) in enumerate(items):
            production = self._mfg_mes_production(message, data)
            family = self._mfg_mes_family_key(production)
            if family in families:
                # Two work orders of one MO family (a split order): the second sees the first done.
                mark_done()
                production = self._mfg_mes_production(message, data)
                family = self._mfg_mes_family_key(production)
            prepared = self._mfg_mes_completion_prepare(message, data, production)
            if "result" in prepared:
                results[index] = prepared["result"]
                continue
            pending.append((index, prepared))
            families.add(family)
        if pending:
            mark_done()
        return results

    def _mfg_mes_family_key(self, production):
        """What MOs marked done together must not share: their procurement group (a family of
        backorders), or the MO itself when it has none."""
        return (
            ("group", production.procurement_group_id.id)
            if production.procurement_group_id
            else (
                "mo",
                production.id,
            )
        )

    # ------------------------------------------------------------------ operation status
    def _mfg_batch_mes_operation_status(self, items):
        """mes.operation_status.v1 for many MOs: the work orders started (or resumed) in one
        ``button_start``; pauses and finishes one at a time, in turn."""
        results = [None] * len(items)
        pending, families = [], set()

        def start():
            if pending:
                self.env["mrp.workorder"].concat(*(entry[2] for entry in pending)).button_start()
                for index, production, workorder, at, status, first_start, open_before in pending:
                    results[index] = self._mfg_mes_started(
                        production, workorder, at, status, first_start, open_before
                    )
            pending.clear()
            families.clear()

        for index, (message, data) in enumerate(items):
            if data["status"] not in ("started", "resumed"):
                start()
                results[index] = self._mfg_handle_mes_operation_status(message, data)
                continue
            production = self._mfg_mes_production(message, data)
            family = self._mfg_mes_family_key(production)
            if family in families:
                start()
                production = self._mfg_mes_production(message, data)
                family = self._mfg_mes_family_key(production)
            workorder, at = self._mfg_mes_operation(message, data, production)
            open_before = workorder.time_ids.filtered(lambda t: not t.date_end)
            first_start = workorder.state != "progress"
            pending.append((index, production, workorder, at, data["status"], first_start, open_before))
            families.add(family)
        start()
        return results

    # ------------------------------------------------------------------ material consumption
    def _mfg_batch_mes_material_consumption(self, items):
        """mes.material_consumption.v1 for many MOs: the reserved move lines of every first
        report dropped in one unlink, the consumed lines created in one create, the moves marked
        manual and picked in one write."""
        results = [None] * len(items)
        pending = []  # (item index, move, quantity, lot) of open MOs, moves distinct
        touched = set()
        changed = [self.env["stock.move.line"] for _item in items]

        def consume():
            for index, move_line in zip(
                [entry[0] for entry in pending], self._mfg_mes_consume_many(pending), strict=True
            ):
                changed[index] |= move_line
            pending.clear()
            touched.clear()

        productions = {}
        for index, (message, data) in enumerate(items):
            production, lines = self._mfg_mes_consumption_lines(message, data)
            productions[index] = production
            if production.state == "done" or any(move.id in touched for move, _q, _l in lines):
                # A correction of a done MO, or a move this batch already changes: in turn.
                consume()
                production, lines = self._mfg_mes_consumption_lines(message, data)
                productions[index] = production
                if production.state == "done":
                    for move, quantity, lot in lines:
                        changed[index] |= self._mfg_mes_consume_done(move, quantity, lot)
                    continue
            for move, quantity, lot in lines:
                if move.id in touched:  # the same component twice in one message
                    consume()
                pending.append((index, move, quantity, lot))
                touched.add(move.id)
        if pending:
            consume()
        for index, production in productions.items():
            results[index] = [production, changed[index].move_id, changed[index]]
        return results

    def _mfg_mes_consume_many(self, entries):
        """``_mfg_mes_consume`` for each (index, move, quantity, lot) of ``entries`` (distinct
        moves of open MOs), with one unlink, one create and one write; returns the move line of
        each entry, in order."""
        moves = self.env["stock.move"].concat(*(move for _i, move, _q, _l in entries))
        # First MES report of a move: drop what Odoo reserved or pre-filled.
        moves.filtered(lambda m: not (m.manual_consumption and m.picked)).move_line_ids.unlink()
        lines, to_create = [], []
        for _index, move, quantity, lot in entries:
            move_line = move.move_line_ids.filtered(lambda ml, lot=lot: ml.picked and ml.lot_id == lot)[:1]
            if move_line:
                move_line.quantity += move.product_uom._compute_quantity(quantity, move_line.product_uom_id)
            else:
                to_create.append((len(lines), self._mfg_mes_picked_line_vals(move, quantity, lot)))
            lines.append(move_line)
        if to_create:
            created = self.env["stock.move.line"].create([vals for _pos, vals in to_create])
            for (pos, _vals), move_line in zip(to_create, created, strict=True):
                lines[pos] = move_line
        # Manual + picked: Odoo keeps this quantity when the finished quantity is set (no backflush).
        moves.write({"manual_consumption": True, "picked": True})
        return lines

    # ------------------------------------------------------------------ scrap
    def _mfg_batch_mes_scrap(self, items):
        """mes.scrap.v1 for many MOs: the scraps created in one create and validated together."""
        prepared = [self._mfg_mes_scrap_vals(message, data) for message, data in items]
        scraps = self.env["stock.scrap"].create([vals for _production, vals in prepared])
        self._mfg_mes_validate_scraps(scraps)
        return [
            [production, scrap, scrap.move_ids]
            for (production, _vals), scrap in zip(prepared, scraps, strict=True)
        ]

    # ------------------------------------------------------------------ downtime
    def _mfg_batch_mes_downtime(self, items):
        """mes.downtime.v1 for many MOs: the time log lines created in one create."""
        prepared = [self._mfg_mes_downtime_vals(message, data) for message, data in items]
        lines = self.env["mrp.workcenter.productivity"].create([vals for _production, vals in prepared])
        return [[production, line] for (production, _vals), line in zip(prepared, lines, strict=True)]

    # ------------------------------------------------------------------ production progress
    def _mfg_batch_mes_production_progress(self, items):
        """mes.production_progress.v1 for many MOs: every report checked, then the quantities
        written, then the moves of all the MOs set to follow them. Two reports that land on one
        MO (two work order codes of one MO): the first is applied before the second is added."""
        results, pending = [], {}
        for message, data in items:
            production, quantity = self._mfg_mes_progress_prepare(message, data)
            if production.id in pending:
                self._mfg_mes_add_progress(list(pending.values()))
                pending.clear()
            pending[production.id] = (production, quantity)
            results.append([production])
        self._mfg_mes_add_progress(list(pending.values()))
        return results
