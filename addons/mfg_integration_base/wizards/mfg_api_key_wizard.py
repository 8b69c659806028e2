from odoo import fields, models


class MfgApiKeyShow(models.TransientModel):
    """Shows a new API key once. The key comes in the action's context and is never saved
    (as Odoo's own res.users.apikeys.show): closing the dialog loses it."""

    _name = "mfg.api.key.show"
    _description = "Show a new integration API key (once)"

    key = fields.Char(readonly=True)
    backend_id = fields.Many2one("mfg.backend", readonly=True)
    key_prefix = fields.Char(readonly=True)
    service_login = fields.Char(readonly=True)


class MfgApiKeyRotateWizard(models.TransientModel):
    """Rotate a backend's API key: a new key now, the old one ends after the grace period."""

    _name = "mfg.api.key.rotate.wizard"
    _description = "Rotate an integration API key"

    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade")
    grace_hours = fields.Integer(
        string="Grace period (hours)",
        default=24,
        required=True,
        help="How long the current key keeps working, so that the plant system can switch to the new "
        "one. 0 = the current key stops at once.",
    )

    def action_rotate(self):
        self.ensure_one()
        record, clear = self.backend_id._mfg_rotate_api_key(self.grace_hours)
        return self.backend_id._mfg_show_key_action(record, clear)
