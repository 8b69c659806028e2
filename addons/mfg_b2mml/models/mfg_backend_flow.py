from odoo import fields, models


class MfgBackendFlow(models.Model):
    _inherit = "mfg.backend.flow"

    wire_format = fields.Selection(
        selection_add=[("b2mml", "B2MML XML (ISA-95)")], ondelete={"b2mml": "set default"}
    )
