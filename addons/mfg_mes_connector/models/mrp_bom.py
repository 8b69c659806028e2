from operator import itemgetter

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339

from ..lib.outbox import plant_code

BOM_TYPE = "erp.bom"
APPROVER_GROUPS = ("mrp.group_mrp_manager", "mfg_integration_base.group_mfg_manager")
# A change to one of these makes an approved BOM a draft again (re-approve before it is sent).
BOM_FIELDS = {
    "bom_line_ids",
    "operation_ids",
    "byproduct_ids",
    "product_qty",
    "product_uom_id",
    "product_tmpl_id",
    "product_id",
    "type",
}
BOM_LINE_FIELDS = {"product_id", "product_qty", "product_uom_id", "operation_id", "bom_id"}
OPERATION_FIELDS = {
    "name",
    "workcenter_id",
    "time_cycle_manual",
    "time_mode",
    "time_mode_batch",
    "sequence",
    "bom_id",
    "active",
}


class MrpBom(models.Model):
    _inherit = "mrp.bom"

    mfg_approval_state = fields.Selection(
        [("draft", "To approve"), ("approved", "Approved")],
        string="MES approval",
        default="draft",
        required=True,
        copy=False,
        tracking=True,
        help="Only approved BOMs are sent to the MES (erp.bom). Changing the components, operations "
        "or quantity of an approved BOM makes it 'To approve' again.",
    )
    mfg_approved_by_id = fields.Many2one("res.users", string="Approved by", readonly=True, copy=False)
    mfg_approved_on = fields.Datetime(string="Approved on", readonly=True, copy=False)

    def write(self, vals):
        approved = self.filtered(lambda b: b.mfg_approval_state == "approved")
        res = super().write(vals)
        if approved and BOM_FIELDS & set(vals) and "mfg_approval_state" not in vals:
            approved._mfg_mes_reset_approval()
        return res

    def _mfg_mes_reset_approval(self):
        """Back to 'To approve' (the approved version was changed)."""
        approved = self.filtered(lambda b: b.mfg_approval_state == "approved")
        if approved:
            # A consequence of the change the user may make, not a right they need.
            approved.sudo().write(
                {"mfg_approval_state": "draft", "mfg_approved_by_id": False, "mfg_approved_on": False}
            )
        return approved

    def action_mfg_approve_for_mes(self):
        """Button "Approve for MES": approve the BOM and queue it for the MES backends."""
        if not any(self.env.user.has_group(g) for g in APPROVER_GROUPS):
            raise AccessError(
                self.env._(
                    "Only Manufacturing administrators or Integration managers can approve a bill of "
                    "materials for the MES."
                )
            )
        for bom in self.sudo():
            bom._mfg_mes_check_publishable()
            for backend in bom._mfg_mes_backends():
                bom._mfg_mes_bom_payload(backend)  # every code known for the plant, or say which not
        self.write(
            {
                "mfg_approval_state": "approved",
                "mfg_approved_by_id": self.env.user.id,
                "mfg_approved_on": fields.Datetime.now(),
            }
        )
        self._mfg_mes_publish_bom()
        return True

    def _mfg_mes_check_publishable(self):
        self.ensure_one()
        if not self.bom_line_ids and not self.operation_ids:
            raise UserError(
                self.env._("Bill of materials %(bom)s is empty: add components first.", bom=self.display_name)
            )

    def _mfg_mes_backends(self):
        """Active backends with the erp.bom flow this BOM belongs to (company, plant)."""
        self.ensure_one()
        backends = self.env["mfg.outbox"]._mfg_backends(BOM_TYPE)
        warehouse = self.picking_type_id.warehouse_id
        return backends.filtered(
            lambda b: (not self.company_id or b.company_id == self.company_id)
            and (not warehouse or not b.warehouse_id or b.warehouse_id == warehouse)
        )

    def _mfg_mes_publish_bom(self):
        """Queue (or refresh the queued) erp.bom message of each approved BOM. erp.bom is a batch exchange type."""
        messages = self.env["mfg.message"].sudo()
        key = itemgetter("correlation_id")  # its ordering key too: "bom:<code>"
        for bom in self.sudo().filtered(lambda b: b.mfg_approval_state == "approved"):
            messages |= self.env["mfg.outbox"]._mfg_put(
                bom._mfg_mes_backends(),
                BOM_TYPE,
                bom._mfg_mes_bom_payload,
                ordering_key=key,
                correlation_id=key,
                record=bom,
                coalesce=True,
            )
        return messages

    def _mfg_mes_product(self):
        self.ensure_one()
        return self.product_id or self.product_tmpl_id.product_variant_id

    def _mfg_mes_required_code(self, backend, kind, record, odoo_code):
        code = plant_code(backend, kind, record, odoo_code)
        if not code:
            raise UserError(
                self.env._(
                    "%(record)s (in bill of materials %(bom)s) has no code for backend %(backend)s: set its "
                    "Odoo code (internal reference, work center code) or add a code mapping of kind "
                    "'%(kind)s', then approve again.",
                    record=record.display_name,
                    bom=self.display_name,
                    backend=backend.code,
                    kind=kind,
                )
            )
        return code

    def _mfg_mes_operations(self, backend, required=True):
        """The routing: operations with their work center code and duration (minutes per cycle)."""
        self.ensure_one()
        code = self._mfg_mes_required_code if required else (lambda b, k, r, c: plant_code(b, k, r, c))
        return [
            {
                "sequence": op.sequence,
                "name": op.name,
                "workcenter": code(backend, "workcenter", op.workcenter_id, op.workcenter_id.code),
                "duration": op.time_cycle,
            }
            for op in self.operation_ids.sorted(lambda o: (o.sequence, o.id))
        ]

    def _mfg_mes_bom_payload(self, backend):
        """erp.bom.v1 payload of the BOM for ``backend``."""
        self.ensure_one()
        code = self._mfg_mes_required_code
        product = self._mfg_mes_product()
        product_code = code(backend, "product", product, product.default_code)
        reference = self.code or product_code
        data = self.env["mfg.outbox"]._mfg_envelope(f"bom-{reference}", correlation_id=f"bom:{reference}")
        data.update(
            {
                "bom": reference,
                "product": product_code,
                "quantity": self.product_qty,
                "uom": code(backend, "uom", self.product_uom_id, self.product_uom_id.name),
                "type": self.type,
                "approved_by": self.mfg_approved_by_id.name or None,
                "approved_at": format_rfc3339(self.mfg_approved_on),
                "components": [
                    {
                        "component": code(backend, "product", line.product_id, line.product_id.default_code),
                        "quantity": line.product_qty,
                        "uom": code(backend, "uom", line.product_uom_id, line.product_uom_id.name),
                    }
                    for line in self.bom_line_ids
                ],
                "operations": self._mfg_mes_operations(backend),
            }
        )
        return data

    def _mfg_mes_routing_payload(self, backend, code):
        """The routing API's answer for the product ``code``."""
        self.ensure_one()
        return {
            "product": code,
            "bom": self.code or code,
            "quantity": self.product_qty,
            "uom": plant_code(backend, "uom", self.product_uom_id, self.product_uom_id.name),
            "approval_state": self.mfg_approval_state,
            "operations": self._mfg_mes_operations(backend, required=False),
        }


class MrpBomLine(models.Model):
    _inherit = "mrp.bom.line"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.bom_id._mfg_mes_reset_approval()
        return lines

    def write(self, vals):
        boms = self.bom_id
        res = super().write(vals)
        if BOM_LINE_FIELDS & set(vals):
            (boms | self.bom_id)._mfg_mes_reset_approval()
        return res

    def unlink(self):
        boms = self.bom_id
        res = super().unlink()
        boms.exists()._mfg_mes_reset_approval()
        return res


class MrpRoutingWorkcenter(models.Model):
    _inherit = "mrp.routing.workcenter"

    @api.model_create_multi
    def create(self, vals_list):
        operations = super().create(vals_list)
        operations.bom_id._mfg_mes_reset_approval()
        return operations

    def write(self, vals):
        boms = self.bom_id
        res = super().write(vals)
        if OPERATION_FIELDS & set(vals):
            (boms | self.bom_id)._mfg_mes_reset_approval()
        return res

    def unlink(self):
        boms = self.bom_id
        res = super().unlink()
        boms.exists()._mfg_mes_reset_approval()
        return res
