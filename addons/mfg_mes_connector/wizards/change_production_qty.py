from odoo import fields, models


class ChangeProductionQty(models.TransientModel):
    _inherit = "change.production.qty"

    mfg_reason = fields.Char(
        string="Reason",
        help="Why the quantity changes: sent to the MES with the change order (erp.work_order_change).",
    )

    def change_prod_qty(self):
        for wizard in self:
            reason = wizard.mfg_reason or None
            super(ChangeProductionQty, wizard.with_context(mfg_change_reason=reason)).change_prod_qty()
        return {}
