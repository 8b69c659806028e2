from odoo import fields, models
from odoo.exceptions import UserError


class MfgLotHoldWizard(models.TransientModel):
    """Hold or release lots by hand (Integration Managers), with a reason."""

    _name = "mfg.lot.hold.wizard"
    _description = "Hold or release lots"

    state = fields.Selection([("held", "Hold"), ("released", "Release")], required=True, default="held")
    lot_ids = fields.Many2many("stock.lot", string="Lots", required=True)
    nonconformance_id = fields.Many2one("mfg.nonconformance")
    reason = fields.Text(required=True)

    def action_apply(self):
        self.ensure_one()
        if not self.env.user.has_group("mfg_integration_base.group_mfg_manager"):
            raise UserError(self.env._("Only Integration Managers may hold or release lots by hand."))
        if not (self.reason or "").strip():
            raise UserError(self.env._("Say why the lots are held or released (field Reason)."))
        self.lot_ids._mfg_set_hold(self.state, self.reason, nonconformance=self.nonconformance_id)
        return {"type": "ir.actions.act_window_close"}
