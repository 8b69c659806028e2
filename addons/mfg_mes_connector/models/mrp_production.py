from operator import itemgetter

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339

from ..lib.outbox import plant_code

RELEASE_TYPE = "erp.work_order_release"
CHANGE_TYPE = "erp.work_order_change"
# A release in one of these states never reached (and never will reach) the MES.
UNRELEASED_STATES = ("rejected", "discarded")
OPEN_STATES = ("confirmed", "progress", "to_close")


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    mfg_progress_qty = fields.Float(
        string="Progress reported by the plant",
        digits="Product Unit of Measure",
        readonly=True,
        copy=False,
        help="Sum of the mes.production_progress reports applied to this order (in its unit); the "
        "quantity producing is set to it.",
    )

    # ------------------------------------------------------------------ outbound: work order release
    def action_confirm(self):
        to_release = self.filtered(lambda p: p.state == "draft")
        res = super().action_confirm()
        if not self.env.context.get("mfg_skip_release"):
            for production in to_release.filtered(lambda p: p.state in OPEN_STATES):
                production._mfg_mes_release()
        return res

    def action_mfg_release_to_mes(self):
        """Button "Release to MES": send (again) the work order to the plant's MES backends."""
        for production in self:
            if production.state not in OPEN_STATES:
                raise UserError(
                    self.env._(
                        "Manufacturing order %(mo)s is %(state)s: only confirmed or in-progress orders "
                        "can be released to the MES.",
                        mo=production.name,
                        state=production.state,
                    )
                )
            if not production._mfg_mes_release():
                raise UserError(
                    self.env._(
                        "No active integration backend of warehouse %(wh)s has the %(type)s flow enabled: "
                        "set the plant warehouse on the MES backend and add the flow to it "
                        "(Integration > Configuration > Backends).",
                        wh=production.picking_type_id.warehouse_id.display_name or "-",
                        type=RELEASE_TYPE,
                    )
                )
        return True

    def _mfg_mes_release_backends(self):
        """Active backends of the MO's warehouse with the release flow enabled."""
        self.ensure_one()
        warehouse = self.picking_type_id.warehouse_id
        if not warehouse:
            return self.env["mfg.backend"].sudo()
        return self.env["mfg.outbox"]._mfg_backends(RELEASE_TYPE, [("warehouse_id", "=", warehouse.id)])

    def _mfg_mes_release(self):
        """Write one erp.work_order_release message per matching backend in the outbox."""
        self.ensure_one()
        return self.env["mfg.outbox"]._mfg_put(
            self._mfg_mes_release_backends(),
            RELEASE_TYPE,
            self._mfg_mes_release_payload,
            ordering_key=self.name,
            correlation_id=self.name,
            record=self,  # the MO shows on the message
        )

    # ------------------------------------------------------------------ outbound: work order change
    def write(self, vals):
        watch = "product_qty" in vals and not self.env.context.get("mfg_mes_no_change")
        before = {p.id: p.product_qty for p in self} if watch else {}
        res = super().write(vals)
        if watch:
            for production in self.filtered(lambda p: p.state in OPEN_STATES):
                rounding = production.product_uom_id.rounding
                if float_compare(before[production.id], production.product_qty, precision_rounding=rounding):
                    production._mfg_mes_change("quantity")
        return res

    def _action_cancel(self):
        to_cancel = self.filtered(lambda p: p.state not in ("done", "cancel"))
        res = super()._action_cancel()
        if not self.env.context.get("mfg_mes_no_change"):
            for production in to_cancel.filtered(lambda p: p.state == "cancel"):
                production._mfg_mes_change("cancel")
        return res

    def button_mark_done(self):
        # Closing an MO reduces its quantity to what was produced (the rest goes to a backorder
        # or is dropped): that is the MES's own report coming back, not a change order.
        return super(MrpProduction, self.with_context(mfg_mes_no_change=True)).button_mark_done()

    def _mfg_mes_released_to(self):
        """{backend: reference} of the backends this MO was released to (reference = the MO
        name the release carried, which the MES knows it by)."""
        self.ensure_one()
        release = self.env["mfg.exchange.type"].sudo()._find(RELEASE_TYPE)
        if not release:
            return {}
        # The release's ordering key is the MO name at release time. mrp renames a split MO
        # NAME-001 (backorder_sequence 1; its backorders are -002, -003...): that one still
        # answers to NAME. (Looked up by the indexed ordering key, not by the linked records.)
        references = [self.name]
        if self.backorder_sequence == 1 and "-" in self.name:
            references.append(self.name.rsplit("-", 1)[0])
        releases = (
            self.env["mfg.message"]
            .sudo()
            .search(
                [
                    ("ordering_key", "in", references),
                    ("exchange_type_id", "=", release.id),
                    ("direction", "=", "outbound"),
                    ("state", "not in", UNRELEASED_STATES),
                    ("company_id", "=", self.company_id.id),
                ],
                order="id",
            )
        )
        return {msg.backend_id: msg.ordering_key for msg in releases}

    def _mfg_mes_change(self, kind, reason=None):
        """Write one erp.work_order_change message per backend that got the release (and has
        the change flow): ``kind`` 'quantity' (new quantity) or 'cancel' (quantity 0)."""
        self.ensure_one()
        released = self._mfg_mes_released_to()
        enabled = self.env["mfg.outbox"]._mfg_backends(CHANGE_TYPE)
        reason = reason or self.env.context.get("mfg_change_reason") or None
        reference = itemgetter("work_order")  # the MO's name when it was released to that backend
        return self.env["mfg.outbox"]._mfg_put(
            enabled.browse([backend.id for backend in released if backend in enabled]),
            CHANGE_TYPE,
            lambda backend: self._mfg_mes_change_payload(backend, released[backend], kind, reason),
            ordering_key=reference,
            correlation_id=reference,
            record=self,
        )

    def _mfg_mes_change_payload(self, backend, reference, kind, reason):
        """erp.work_order_change.v1 for ``backend``, which knows the MO as ``reference``."""
        data = self.env["mfg.outbox"]._mfg_envelope(f"{reference}-{kind}", correlation_id=reference)
        data.update(
            {
                "work_order": reference,
                "change": kind,
                "quantity": 0.0 if kind == "cancel" else self.product_qty,
                "uom": self._mfg_mes_code(backend, "uom", self.product_uom_id, self.product_uom_id.name),
                "reason": reason,
            }
        )
        return data

    def _mfg_mes_code(self, backend, kind, record, odoo_code):
        """The plant's code of an Odoo record: the backend's code mapping, else the Odoo code."""
        code = backend._mfg_code_for(kind, record, odoo_code)
        if not code:
            raise UserError(
                self.env._(
                    "%(record)s has no code for backend %(backend)s: set its Odoo code (internal reference, "
                    "work center code) or add a code mapping of kind '%(kind)s'.",
                    record=record.display_name,
                    backend=backend.code,
                    kind=kind,
                )
            )
        return code

    def _mfg_mes_release_payload(self, backend):
        self.ensure_one()
        code = self._mfg_mes_code
        components = []
        for move in self.move_raw_ids.filtered(lambda m: m.state != "cancel"):
            line = {
                "component": code(backend, "product", move.product_id, move.product_id.default_code),
                "quantity": move.product_uom_qty,
                "uom": code(backend, "uom", move.product_uom, move.product_uom.name),
            }
            lots = move.move_line_ids.lot_id.mapped("name")
            if lots:
                line["lots"] = lots
            components.append(line)
        operations = [
            {
                "sequence": wo.sequence,
                "name": wo.name,
                "workcenter": code(backend, "workcenter", wo.workcenter_id, wo.workcenter_id.code),
                "duration_expected": wo.duration_expected,
            }
            for wo in self.workorder_ids
        ]
        data = self.env["mfg.outbox"]._mfg_envelope(f"{self.name}-release", correlation_id=self.name)
        data.update(
            {
                "work_order": self.name,
                "product": code(backend, "product", self.product_id, self.product_id.default_code),
                "quantity": self.product_qty,
                "uom": code(backend, "uom", self.product_uom_id, self.product_uom_id.name),
                "planned_start": format_rfc3339(self.date_start),
                "planned_end": format_rfc3339(self.date_finished),
                "lot": self.lot_producing_id.name or None,
                "components": components,
                "operations": operations,
            }
        )
        return data

    # ------------------------------------------------------------------ the MES's reference
    @api.model
    def _mfg_mes_family(self, backend, reference):
        """The MOs the MES knows as ``reference`` in the backend's company: the MO of that name,
        or, once mrp renamed it (split, partial completion: NAME-001, NAME-002...), the MO and
        its backorders, in backorder order."""
        company = [("company_id", "=", backend.company_id.id)]
        production = self.search([("name", "=", reference)] + company, limit=1)
        pattern = reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
        backorders = self.search(
            [("name", "=like", pattern), ("backorder_sequence", ">", 0)] + company,
            order="backorder_sequence, id",
        )
        return production | backorders

    def _mfg_mes_status_payload(self, backend, reference):
        """The sync API's answer for ``reference``: the first MO of the family (``self``) with its
        operations, plus the other MOs of the family (backorders) when there are some."""
        production = self[:1]
        uom = plant_code(backend, "uom", production.product_uom_id, production.product_uom_id.name)
        return {
            "work_order": reference,
            "name": production.name,
            "state": production.state,
            "product": plant_code(
                backend, "product", production.product_id, production.product_id.default_code
            ),
            "quantity_planned": production.product_qty,
            "quantity_produced": production.qty_produced,
            "uom": uom,
            "lot": production.lot_producing_id.name or None,
            "planned_start": format_rfc3339(production.date_start),
            "planned_end": format_rfc3339(production.date_finished),
            "operations": [
                {
                    "sequence": wo.sequence,
                    "name": wo.name,
                    "workcenter": plant_code(backend, "workcenter", wo.workcenter_id, wo.workcenter_id.code),
                    "state": wo.state,
                    "duration_expected": wo.duration_expected,
                    "duration": wo.duration,
                }
                for wo in production.workorder_ids
            ],
            "backorders": [
                {
                    "name": mo.name,
                    "state": mo.state,
                    "quantity_planned": mo.product_qty,
                    "quantity_produced": mo.qty_produced,
                    "uom": plant_code(backend, "uom", mo.product_uom_id, mo.product_uom_id.name),
                }
                for mo in self[1:]
            ],
        }
