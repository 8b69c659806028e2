from odoo import models

# A product's thread covers its lots; beyond this many, the button lists the lots instead (each
# lot has its own Traceability button).
MAX_LOTS_IN_ONE_THREAD = 50


class ProductProduct(models.Model):
    _name = "product.product"
    _inherit = ["product.product", "mfg.traceability.mixin"]

    def _mfg_trace_scope(self):
        lots = self.env["stock.lot"].search(
            [("product_id", "in", self.ids)], limit=MAX_LOTS_IN_ONE_THREAD + 1
        )
        return lots, self.env["mrp.production"], self.env["stock.picking"]

    def action_mfg_traceability(self):
        lots = self._mfg_trace_scope()[0]
        if len(lots) > MAX_LOTS_IN_ONE_THREAD:
            return {
                "type": "ir.actions.act_window",
                "name": self.env._("Lots of %(product)s", product=self[:1].display_name),
                "res_model": "stock.lot",
                "view_mode": "list,form",
                "domain": [("product_id", "in", self.ids)],
            }
        return super().action_mfg_traceability()
