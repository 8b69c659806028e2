from odoo import api, models


class MfgCodeMapping(models.Model):
    _inherit = "mfg.code.mapping"

    @api.model
    def _mfg_kinds(self):
        """Add 'scrap_reason': a plant scrap reason code → an Odoo scrap reason tag (fallback: its name)."""
        kinds = super()._mfg_kinds()
        kinds["scrap_reason"] = ("Scrap reason", "stock.scrap.reason.tag", "name")
        return kinds
