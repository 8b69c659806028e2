import uuid

from odoo import fields, models
from odoo.exceptions import UserError

RELEASE_TYPE = "erp.work_order_release"
OPEN_STATES = ("confirmed", "progress", "to_close")


def _utc(value):
    """RFC 3339 text of an Odoo UTC datetime (None when empty)."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class MrpProduction(models.Model):
    _inherit = "mrp.production"

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
        Backend = self.env["mfg.backend"].sudo()
        warehouse = self.picking_type_id.warehouse_id
        if not warehouse:
            return Backend
        return Backend._mfg_backends_with_flow(RELEASE_TYPE, [("warehouse_id", "=", warehouse.id)])

    def _mfg_mes_release(self):
        """Write one erp.work_order_release message per matching backend in the outbox."""
        self.ensure_one()
        messages = self.env["mfg.message"].sudo()
        for backend in self._mfg_mes_release_backends():
            payload = self._mfg_mes_release_payload(backend)
            messages |= backend._mfg_outbox(
                RELEASE_TYPE, payload, ordering_key=self.name, correlation_id=self.name
            )
        return messages

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
        return {
            "message_id": f"{self.name}-release-{uuid.uuid4().hex[:12]}",
            "sent_at": _utc(fields.Datetime.now()),
            "correlation_id": self.name,
            "work_order": self.name,
            "product": code(backend, "product", self.product_id, self.product_id.default_code),
            "quantity": self.product_qty,
            "uom": code(backend, "uom", self.product_uom_id, self.product_uom_id.name),
            "planned_start": _utc(self.date_start),
            "planned_end": _utc(self.date_finished),
            "lot": self.lot_producing_id.name or None,
            "components": components,
            "operations": operations,
        }
