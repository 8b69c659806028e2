from datetime import timedelta

from odoo import models
from odoo.tools import float_is_zero

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError
from odoo.addons.mfg_integration_base.lib.dates import parse_rfc3339


class MfgMesShopFloorHandlers(models.AbstractModel):
    """Handlers of the MES exchange types about the shop floor rather than quantities: scrap, downtime
    and operation status (work orders and their timers). Same handler model as
    mfg_mes_handlers.py (consumption and completion)."""

    _inherit = "mfg.mes.handlers"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ inbound: production progress
    def _mfg_handle_mes_production_progress(self, message, data):
        """mes.production_progress.v1: add the quantity to the MO's quantity producing; the MO
        stays open (unlike mes.production_completion, which marks it done)."""
        production, quantity = self._mfg_mes_progress_prepare(message, data)
        self._mfg_mes_add_progress([(production, quantity)])
        return [production]

    def _mfg_mes_progress_prepare(self, message, data):
        """The MO of a progress report and the quantity in the MO's unit: everything checked,
        nothing changed."""
        production = self._mfg_mes_production(message, data)
        product = production.product_id
        if product.tracking == "serial":
            raise MfgPermanentError(
                self.env._(
                    "Product %(product)s of %(mo)s is tracked by serial number: report its units with "
                    "mes.production_completion and their serials, not as progress.",
                    product=product.display_name,
                    mo=production.name,
                ),
                path="/work_order",
            )
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
        return production, quantity

    def _mfg_mes_add_progress(self, entries):
        """Add each (MO, quantity) of ``entries`` (distinct MOs) to the MO's progress."""
        for production, quantity in entries:
            # The sum of the reports, not Odoo's own quantity producing: starting an operation
            # sets that to the whole remaining quantity, which nothing has made yet.
            total = production.mfg_progress_qty + quantity
            production.write({"mfg_progress_qty": total, "qty_producing": total})
        for production, _quantity in entries:
            # What the form's onchange does: the finished move and the components not reported
            # by the MES follow the quantity producing.
            production._set_qty_producing(False)

    # ------------------------------------------------------------------ inbound: scrap
    def _mfg_handle_mes_scrap(self, message, data):
        """mes.scrap.v1: a validated stock.scrap linked to the MO."""
        production, vals = self._mfg_mes_scrap_vals(message, data)
        scrap = self.env["stock.scrap"].create(vals)
        self._mfg_mes_validate_scraps(scrap)
        return [production, scrap, scrap.move_ids]

    def _mfg_mes_scrap_vals(self, message, data):
        """The MO of a scrap message and the values of its stock.scrap: everything checked,
        nothing changed."""
        backend = message.backend_id
        production = self._mfg_mes_production(message, data, states=None)
        if production.state == "cancel":
            raise MfgPermanentError(
                self.env._(
                    "Manufacturing order %(mo)s is cancelled: it cannot take scrap.", mo=production.name
                ),
                path="/work_order",
            )
        product = backend._mfg_resolve("product", data["product"])
        uom = backend._mfg_resolve("uom", data["uom"])
        # The scrap keeps the plant's unit; its stock moves in the product's unit (both checked).
        quantity = self._mfg_mes_quantity(message, data["quantity"], data["uom"], product, uom, "")
        if float_is_zero(quantity, precision_rounding=uom.rounding):
            raise MfgPermanentError(
                self.env._(
                    "Scrap quantity %(qty)s %(uom)s is zero: send a positive quantity.",
                    qty=data["quantity"],
                    uom=data["uom"],
                ),
                path="/quantity",
            )
        lot = self._mfg_mes_lot(backend, data.get("lot"), product, "/lot")
        reason = backend._mfg_resolve("scrap_reason", data["reason"]) if data.get("reason") else None
        return production, {
            "production_id": production.id,
            "product_id": product.id,
            "product_uom_id": uom.id,
            "scrap_qty": quantity,
            "lot_id": lot.id or False,
            "company_id": production.company_id.id,
            "origin": production.name,
            "scrap_reason_tag_ids": [(6, 0, reason.ids)] if reason else [],
        }

    def _mfg_mes_validate_scraps(self, scraps):
        """Validate ``scraps``: the material is physically gone, so they are done even when Odoo's
        stock says it is short (what ``action_validate`` followed by the "insufficient quantity"
        dialog's Confirm does, without computing the quantity available first)."""
        scraps.do_scrap()

    # ------------------------------------------------------------------ inbound: downtime
    def _mfg_handle_mes_downtime(self, message, data):
        """mes.downtime.v1: a work center productivity (time log) line with its loss reason."""
        production, vals = self._mfg_mes_downtime_vals(message, data)
        line = self.env["mrp.workcenter.productivity"].create(vals)
        return [production, line]

    def _mfg_mes_downtime_vals(self, message, data):
        """The MO of a downtime and the values of its time log line: everything checked,
        nothing changed."""
        backend = message.backend_id
        production = self._mfg_mes_production(message, data, states=None)
        workcenter = backend._mfg_resolve("workcenter", data["workcenter"])
        loss = backend._mfg_resolve("loss_reason", data["reason"])
        start, end = parse_rfc3339(data["start"], "/start"), parse_rfc3339(data["end"], "/end")
        if end <= start:
            raise MfgPermanentError(
                self.env._(
                    "Downtime end %(end)s is not after its start %(start)s: fix the times in the MES.",
                    end=data["end"],
                    start=data["start"],
                ),
                path="/end",
            )
        workorder = production.workorder_ids.filtered(lambda w: w.workcenter_id == workcenter)[:1]
        return production, {
            "workcenter_id": workcenter.id,
            "workorder_id": workorder.id or False,
            "loss_id": loss.id,
            "date_start": start,
            "date_end": end,
            "description": data.get("description") or production.name,
            "company_id": (workcenter.company_id or production.company_id).id,
        }

    # ------------------------------------------------------------------ inbound: operation status
    def _mfg_mes_workorder(self, backend, production, operation):
        workorders = production.workorder_ids
        if isinstance(operation, int):
            found = workorders.filtered(lambda w: w.sequence == operation)
            label = self.env._("sequence %(seq)s", seq=operation)
        else:
            workcenter = backend._mfg_resolve("workcenter", operation)
            found = workorders.filtered(lambda w: w.workcenter_id == workcenter)
            label = self.env._("work center '%(code)s'", code=operation)
        if len(found) != 1:
            raise MfgPermanentError(
                self.env._(
                    "Manufacturing order %(mo)s has %(n)s operations with %(label)s (one expected): "
                    "send the operation's sequence or a work center used by exactly one operation.",
                    mo=production.name,
                    n=len(found),
                    label=label,
                ),
                path="/operation",
            )
        return found

    def _mfg_mes_close_timers(self, timers, at):
        """mrp.workcenter.productivity._close() at ``at`` instead of now: time beyond the
        work order's expected duration goes to a 'performance' loss line, as Odoo does."""
        Productivity = self.env["mrp.workcenter.productivity"]
        performance = self.env["mrp.workcenter.productivity.loss"].search(
            [("loss_type", "=", "performance")], limit=1
        )
        closed = Productivity
        for timer in timers:
            end = max(at, timer.date_start)
            timer.write({"date_end": end})
            closed |= timer
            workorder = timer.workorder_id
            if not workorder or not performance or workorder.duration <= workorder.duration_expected:
                continue
            productive_end = end - timedelta(minutes=workorder.duration - workorder.duration_expected)
            if productive_end <= timer.date_start:
                timer.loss_id = performance
            else:
                closed |= timer.copy({"date_start": productive_end, "loss_id": performance.id})
                timer.write({"date_end": productive_end})
        return closed

    def _mfg_handle_mes_operation_status(self, message, data):
        """mes.operation_status.v1: start, pause, resume or finish the matching work order,
        with the plant's time on the work order and its time log."""
        production = self._mfg_mes_production(message, data)
        workorder, at = self._mfg_mes_operation(message, data, production)
        status = data["status"]
        open_before = workorder.time_ids.filtered(lambda t: not t.date_end)
        if status in ("started", "resumed"):
            first_start = workorder.state != "progress"
            workorder.button_start()
            return self._mfg_mes_started(production, workorder, at, status, first_start, open_before)
        # Close the running time logs at the plant's time (Odoo's buttons would use "now").
        closed = self._mfg_mes_close_timers(open_before, at)
        if status == "paused":
            workorder.button_pending()
            return [production, workorder, closed]
        # finished
        workorder.button_finish()
        vals = {"date_finished": at}
        if workorder.date_start and workorder.date_start > at:
            vals["date_start"] = at
        workorder.with_context(bypass_duration_calculation=True).write(vals)
        return [production, workorder, closed]

    def _mfg_mes_operation(self, message, data, production):
        """The work order and the plant's time of an operation status: everything checked,
        nothing changed."""
        workorder = self._mfg_mes_workorder(message.backend_id, production, data["operation"])
        at = parse_rfc3339(data["at"], "/at")
        if workorder.state in ("done", "cancel"):
            raise MfgPermanentError(
                self.env._(
                    "Operation %(wo)s of %(mo)s is already %(state)s: it cannot be %(status)s.",
                    wo=workorder.name,
                    mo=production.name,
                    state=workorder.state,
                    status=data["status"],
                ),
                path="/status",
            )
        return workorder, at

    def _mfg_mes_started(self, production, workorder, at, status, first_start, open_before):
        """After ``button_start``: the new time log and, at the first start, the work order
        start at the plant's time; returns the handler's result."""
        new_lines = workorder.time_ids.filtered(lambda t: not t.date_end) - open_before
        new_lines.write({"date_start": at})
        if first_start and status == "started":
            workorder.with_context(bypass_duration_calculation=True).write({"date_start": at})
        return [production, workorder, new_lines]
