from odoo import api, fields, models


class MfgMessageDiscardWizard(models.TransientModel):
    """Discard one or many messages with a reason (the reason goes to each message's chatter)."""

    _name = "mfg.message.discard.wizard"
    _description = "Discard Integration Messages"

    message_ids = fields.Many2many("mfg.message", string="Messages", required=True)
    message_count = fields.Integer(compute="_compute_message_count")
    reason = fields.Text(required=True)

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        if self.env.context.get("active_model") == "mfg.message" and "message_ids" in fields_list:
            res["message_ids"] = [fields.Command.set(self.env.context.get("active_ids", []))]
        return res

    @api.depends("message_ids")
    def _compute_message_count(self):
        for rec in self:
            rec.message_count = len(rec.message_ids)

    def action_discard(self):
        self.ensure_one()
        self.message_ids.action_discard(self.reason)
        return {"type": "ir.actions.act_window_close"}
