from odoo import models


class MrpBom(models.Model):
    _name = "mrp.bom"
    _inherit = ["mrp.bom", "mfg.message.consumer.mixin"]
