from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    mfg_service_backend_ids = fields.One2many(
        "mfg.backend",
        "service_user_id",
        string="Integration backends served",
        help="Backends this technical user posts for: its API key is refused for any other backend.",
    )
