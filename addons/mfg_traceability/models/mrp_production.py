from odoo import models


class MrpProduction(models.Model):
    _name = "mrp.production"
    _inherit = ["mrp.production", "mfg.traceability.mixin"]

    def _mfg_trace_scope(self):
        lots = self.lot_producing_id | self.move_finished_ids.move_line_ids.lot_id
        return lots, self, self.env["stock.picking"]
