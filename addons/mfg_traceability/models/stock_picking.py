from odoo import models


class StockPicking(models.Model):
    _name = "stock.picking"
    _inherit = ["stock.picking", "mfg.traceability.mixin"]

    def _mfg_trace_scope(self):
        return self.move_line_ids.lot_id, self.env["mrp.production"], self
