from odoo import models


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_done(self, cancel_backorder=False):
        done = super()._action_done(cancel_backorder=cancel_backorder)
        done._mfg_request_inspections()
        return done

    def _mfg_request_inspections(self):
        """Done receipts and finished products of MOs of products flagged 'Inspection required':
        one erp.inspection_request per lot (see mfg.inspection.request)."""
        moves = self.filtered(
            lambda m: m.state == "done"
            and m.product_id.mfg_inspection_required
            and (m.production_id or m.picking_id.picking_type_id.code == "incoming")
        )
        if not moves:
            return self.env["mfg.inspection.request"]
        # Sudo: the warehouse user who validates writes requests, outbox messages and holds.
        return self.env["mfg.inspection.request"].sudo()._mfg_request_for_moves(moves.sudo())
