from odoo import fields, models


class MfgBackend(models.Model):
    _inherit = "mfg.backend"

    mfg_quality_manager_id = fields.Many2one(
        "res.users",
        string="Quality manager",
        domain="[('share', '=', False)]",
        tracking=True,
        help="Gets the 'Corrective action' activity of the nonconformances of this quality system. "
        "Empty: an Integration Manager.",
    )
