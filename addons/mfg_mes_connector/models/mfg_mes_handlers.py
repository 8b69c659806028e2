from odoo import models
from odoo.tools import float_compare, float_is_zero

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError

from .mrp_production import OPEN_STATES


class MfgMesHandlers(models.AbstractModel):
    """Handlers of the inbound MES exchange types (mes.*.v1): each finds the manufacturing order
    named in /work_order, applies the message the way a user would in Odoo, and returns the
    records it created or changed (linked on the message)."""

    _name = "mfg.mes.handlers"
    _description = "MES message handlers"
    _inherit = ["mfg.handler.mixin"]

    # ------------------------------------------------------------------ inbound helpers
    def _mfg_mes_production(self, message, data, states=OPEN_STATES):
        """The MO named in the payload, among the backend's company."""
        backend = message.backend_id
        name = data["work_order"]
        # The MO of that name; once mrp renamed it (partial completion, split), the first MO of
        # its family that can take the message (the open backorder), else the first one.
        family = self.env["mrp.production"]._mfg_mes_family(backend, name)
        wanted = states or OPEN_STATES
        production = family.filtered(lambda p: p.state in wanted)[:1] or family[:1]
        if not production:
            raise MfgPermanentError(
                self.env._(
                    "Unknown manufacturing order '%(mo)s' in company %(company)s (backend %(backend)s): "
                    "check the work order name the MES sent.",
                    mo=name,
                    company=backend.company_id.name,
                    backend=backend.code,
                ),
                path="/work_order",
            )
        if states and production.state not in states:
            raise MfgPermanentError(
                self.env._(
                    "Manufacturing order %(mo)s is %(state)s: it cannot take this message. "
                    "Discard the message or reopen the order.",
                    mo=name,
                    state=dict(production._fields["state"].selection).get(production.state),
                ),
                path="/work_order",
            )
        return production

    def _mfg_mes_quantity(self, message, quantity, uom_code, product, to_uom, path):
        """``quantity`` (at JSON pointer ``path``) in the plant's unit ``uom_code`` as booked in
        ``to_uom``: never changed without notice (see mfg.quantity in the base)."""
        uom = message.backend_id._mfg_resolve("uom", uom_code)
        return self.env["mfg.quantity"]._mfg_book_quantity(
            message,
            product,
            quantity,
            uom,
            to_uom,
            path=f"{path}/quantity",
            uom_code=uom_code,
            uom_path=f"{path}/uom",
        )

    def _mfg_mes_lot(self, backend, code, product, path, create=False):
        """The lot/serial ``code`` of ``product`` (the one resolver: a 'lot' code mapping first,
        then its name), created when ``create``; MfgMappingError at ``path`` when unknown."""
        if not code:
            if product.tracking == "none":
                return self.env["stock.lot"]
            raise MfgPermanentError(
                self.env._(
                    "Product %(product)s is tracked by %(tracking)s: the message must give its lot.",
                    product=product.display_name,
                    tracking=product.tracking,
                ),
                path=path,
            )
        if product.tracking == "none":
            return self.env["stock.lot"]
        lot = backend._mfg_resolve("lot", code, required=not create, product=product, path=path)
        if not lot:
            lot = self.env["stock.lot"].create(
                {"name": code, "product_id": product.id, "company_id": backend.company_id.id}
            )
        return lot

    # ------------------------------------------------------------------ inbound: material consumption
    def _mfg_handle_mes_material_consumption(self, message, data):
        """mes.material_consumption.v1: add picked move lines to the MO's raw-material moves."""
        production, lines = self._mfg_mes_consumption_lines(message, data)
        changed = self.env["stock.move.line"]
        for move, quantity, lot in lines:
            if production.state == "done":
                changed |= self._mfg_mes_consume_done(move, quantity, lot)
            else:
                changed |= self._mfg_mes_consume(move, quantity, lot)
        return [production, changed.move_id, changed]

    def _mfg_mes_consumption_lines(self, message, data):
        """The MO of a consumption and its lines as [(move, quantity in the move's unit, lot)]:
        everything checked, nothing changed."""
        backend = message.backend_id
        production = self._mfg_mes_production(message, data, states=(*OPEN_STATES, "done"))
        done = production.state == "done"
        lines = []
        for index, line in enumerate(data["lines"]):
            path = f"/lines/{index}"
            product = backend._mfg_resolve("product", line["component"])
            # A report that arrives after the completion corrects the done order's consumption.
            move = production.move_raw_ids.filtered(
                lambda m, p=product: m.product_id == p
                and not m.scrapped
                and (m.state == "done" if done else m.state not in ("done", "cancel"))
            )[:1]
            if not move:
                raise MfgPermanentError(
                    self.env._(
                        "Product %(product)s (code '%(code)s') is not an open component of manufacturing "
                        "order %(mo)s: add it to the order's components, then retry the message.",
                        product=product.display_name,
                        code=line["component"],
                        mo=production.name,
                    ),
                    path=f"{path}/component",
                )
            quantity = self._mfg_mes_quantity(
                message, line["quantity"], line["uom"], product, move.product_uom, path
            )
            lot = self._mfg_mes_lot(backend, line.get("lot"), product, f"{path}/lot")
            lines.append((move, quantity, lot))
        return production, lines

    def _mfg_mes_consume_done(self, move, quantity, lot):
        """The same as _mfg_mes_consume on a done move (the completion came first): the first
        report replaces what Odoo consumed per BoM at completion, later ones add to it. Done move
        lines are edited the way an unlocked done order is (Odoo moves the stock accordingly)."""
        first = not move.manual_consumption
        move_line = move.move_line_ids.filtered(lambda ml: ml.lot_id == lot)[:1]
        if first:
            (move.move_line_ids - move_line).write({"quantity": 0})
            if move_line:
                move_line.quantity = quantity
        elif move_line:
            move_line.quantity += move.product_uom._compute_quantity(quantity, move_line.product_uom_id)
        if not move_line:
            move_line = self._mfg_mes_picked_line(move, quantity, lot)
        move.manual_consumption = True
        return move_line

    def _mfg_mes_picked_line(self, move, quantity, lot):
        """A picked move line of ``quantity`` (move unit) of ``lot`` on ``move``."""
        return self.env["stock.move.line"].create(self._mfg_mes_picked_line_vals(move, quantity, lot))

    def _mfg_mes_picked_line_vals(self, move, quantity, lot):
        return {
            "move_id": move.id,
            "product_id": move.product_id.id,
            "product_uom_id": move.product_uom.id,
            "quantity": quantity,
            "lot_id": lot.id or False,
            "location_id": move.location_id.id,
            "location_dest_id": move.location_dest_id.id,
            "company_id": move.company_id.id,
            "picked": True,
        }

    def _mfg_mes_consume(self, move, quantity, lot):
        """Record ``quantity`` (move unit) of ``lot`` as consumed on ``move``: the first report
        replaces the reservation by what was actually consumed, later ones add to it."""
        if not (move.manual_consumption and move.picked):
            # First MES report: drop what Odoo reserved or pre-filled (starting a work order sets
            # the quantity producing and picks the components at BoM quantities).
            move.move_line_ids.unlink()
        move_line = move.move_line_ids.filtered(lambda ml: ml.picked and ml.lot_id == lot)[:1]
        if move_line:
            qty_ml = move.product_uom._compute_quantity(quantity, move_line.product_uom_id)
            move_line.quantity += qty_ml
        else:
            move_line = self._mfg_mes_picked_line(move, quantity, lot)
        # Manual + picked: Odoo keeps this quantity when the finished quantity is set (no backflush).
        move.write({"manual_consumption": True, "picked": True})
        return move_line

    # ------------------------------------------------------------------ inbound: production completion
    def _mfg_handle_mes_production_completion(self, message, data):
        """mes.production_completion.v1: set the quantity producing and lot, mark the MO done
        (with a backorder for the rest when the completion is partial and not final)."""
        production = self._mfg_mes_production(message, data)
        prepared = self._mfg_mes_completion_prepare(message, data, production)
        if "result" in prepared:
            return prepared["result"]
        return self._mfg_mes_mark_done([prepared])[0]

    def _mfg_mes_completion_prepare(self, message, data, production):
        """Everything of a completion but marking the MO done: checks, lot, quantity producing.
        Returns {"production", "lot", "backorder"}, or {"result"} when it is already applied
        (several serials: the MO is split and its units marked done)."""
        backend = message.backend_id
        product = production.product_id
        quantity = self._mfg_mes_quantity(
            message, data["quantity"], data["uom"], product, production.product_uom_id, ""
        )
        rounding = production.product_uom_id.rounding
        if float_is_zero(quantity, precision_rounding=rounding):
            raise MfgPermanentError(
                self.env._(
                    "Quantity %(qty)s %(uom)s rounds to zero in %(to)s for %(mo)s: send a larger quantity.",
                    qty=data["quantity"],
                    uom=data["uom"],
                    to=production.product_uom_id.name,
                    mo=production.name,
                ),
                path="/quantity",
            )
        serials = self._mfg_mes_serials(production, data, quantity)
        if len(serials) > 1:
            return {"result": self._mfg_mes_complete_serials(backend, production, serials, data["final"])}
        if serials:
            lot = self._mfg_mes_lot(
                backend, serials[0], product, "/serials/0" if data.get("serials") else "/lot", create=True
            )
        else:
            lot = self._mfg_mes_lot(backend, data.get("lot"), product, "/lot", create=True)
        vals = {"qty_producing": quantity}
        if lot:
            vals["lot_producing_id"] = lot.id
        production.write(vals)
        # What the form's onchange does: finished move and not-reported components follow the
        # quantity producing; components the MES reported (manual + picked) keep their quantity.
        production._set_qty_producing(False)
        remaining = float_compare(quantity, production.product_qty, precision_rounding=rounding) < 0
        return {"production": production, "lot": lot, "backorder": remaining and not data["final"]}

    def _mfg_mes_mark_done(self, prepared):
        """Mark the MOs of ``prepared`` (``_mfg_mes_completion_prepare``'s, of distinct MO
        families) done in one ``button_mark_done``, each with a backorder for the rest when it
        asks for one; returns, per entry, [the MO and its backorders, the lot]."""
        productions = self.env["mrp.production"].concat(*(p["production"] for p in prepared))
        # The backorder wizard's semantics (mrp.production.backorder): "Create backorder" or
        # "No backorder". The MES reports what was really consumed: no consumption warning.
        ctx = {
            "skip_backorder": True,
            "mo_ids_to_backorder": [p["production"].id for p in prepared if p["backorder"]],
            "skip_consumption": True,
            "skip_redirection": True,
        }
        before = {p.id: p.procurement_group_id.mrp_production_ids for p in productions}
        productions.with_context(**ctx).button_mark_done()
        for production in productions:
            if production.state != "done":
                raise MfgPermanentError(
                    self.env._(
                        "Manufacturing order %(mo)s could not be marked done (state %(state)s): "
                        "open it, finish it by hand, then discard the message.",
                        mo=production.name,
                        state=production.state,
                    )
                )
        results = []
        for entry in prepared:
            production = entry["production"]
            backorders = production.procurement_group_id.mrp_production_ids - before[production.id]
            results.append([production | backorders, entry["lot"]])
        return results

    def _mfg_mes_serials(self, production, data, quantity):
        """The serial numbers of a completion of a serial-tracked product ([] otherwise): one
        per unit, so their count must be the quantity."""
        product = production.product_id
        if product.tracking != "serial":
            if data.get("serials"):
                raise MfgPermanentError(
                    self.env._(
                        "Product %(product)s is not tracked by serial number: send its lot in 'lot', "
                        "not 'serials'.",
                        product=product.display_name,
                    ),
                    path="/serials",
                )
            return []
        if data.get("serials") and data.get("lot"):
            raise MfgPermanentError(
                self.env._("Send the serial numbers in 'serials' or one serial in 'lot', not both."),
                path="/lot",
            )
        serials = data.get("serials") or ([data["lot"]] if data.get("lot") else [])
        if not serials:
            raise MfgPermanentError(
                self.env._(
                    "Product %(product)s is tracked by serial number: the message must give the serials "
                    "produced in 'serials' (or one in 'lot').",
                    product=product.display_name,
                ),
                path="/serials",
            )
        rounding = production.product_uom_id.rounding
        if float_compare(quantity, len(serials), precision_rounding=rounding):
            raise MfgPermanentError(
                self.env._(
                    "Quantity %(qty)s %(uom)s does not match the %(count)s serial number(s) sent for %(mo)s: "
                    "one serial per unit.",
                    qty=data["quantity"],
                    uom=data["uom"],
                    count=len(serials),
                    mo=production.name,
                ),
                path="/quantity",
            )
        if float_compare(len(serials), production.product_qty, precision_rounding=rounding) > 0:
            raise MfgPermanentError(
                self.env._(
                    "%(count)s serial numbers sent but manufacturing order %(mo)s is for %(qty)s: increase the "
                    "order's quantity, then retry the message.",
                    count=len(serials),
                    mo=production.name,
                    qty=production.product_qty,
                ),
                path="/serials",
            )
        return serials

    def _mfg_mes_complete_serials(self, backend, production, serials, final):
        """Several serials of a serial-tracked product: split the MO into one MO per serial (the
        rest in a backorder unless ``final``), as Odoo's mass production does, and mark them done."""
        product = production.product_id
        lots = [
            self._mfg_mes_lot(backend, serial, product, f"/serials/{index}", create=True)
            for index, serial in enumerate(serials)
        ]
        # Components the MES reported (picked) were consumed for all the units: they stay on the
        # first unit's MO, the other units consume none of them (no double consumption).
        reported = production.move_raw_ids.filtered(lambda m: m.picked and m.state not in ("done", "cancel"))
        productions = production.with_context(mfg_mes_no_change=True)._split_productions(
            {production: [1.0] * len(serials)}, cancel_remaining_qty=final
        )
        units = productions[: len(serials)]
        for unit in units[1:]:
            for move in unit.move_raw_ids.filtered(lambda m, p=reported.product_id: m.product_id in p):
                move.move_line_ids.unlink()
                move.write({"manual_consumption": True, "picked": True})
        for unit, lot in zip(units, lots, strict=True):
            unit.write({"lot_producing_id": lot.id, "qty_producing": 1.0})
            unit._set_qty_producing(False)
        ctx = {
            "skip_backorder": True,
            "mo_ids_to_backorder": [],
            "skip_consumption": True,
            "skip_redirection": True,
        }
        units.with_context(**ctx).button_mark_done()
        not_done = units.filtered(lambda p: p.state != "done")
        if not_done:
            raise MfgPermanentError(
                self.env._(
                    "Manufacturing orders %(mos)s could not be marked done: open them, finish them by hand, "
                    "then discard the message.",
                    mos=", ".join(not_done.mapped("name")),
                )
            )
        return [productions, *lots]
