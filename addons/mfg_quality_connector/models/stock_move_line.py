from odoo import models
from odoo.exceptions import UserError

# Destinations a held lot may not go to from stock: customers (deliveries), production
# (manufacturing consumption) and transit (inter-warehouse transfers). Receipts into stock,
# moves between internal locations (to a quarantine location), scrap, inventory adjustments
# and returns to the supplier stay allowed: they are how a hold is worked off.
BLOCKED_DESTINATIONS = ("customer", "production", "transit")


class StockMoveLine(models.Model):
    _inherit = "stock.move.line"

    def _action_done(self):
        self._mfg_check_quality_hold()
        return super()._action_done()

    def _mfg_check_quality_hold(self):
        """Refuse to move a held lot out of stock (delivery, transit, consumption)."""
        blocked = self.filtered(
            lambda ml: ml.lot_id
            and ml.lot_id.mfg_hold_state == "held"
            and ml.quantity > 0
            and ml.location_id.usage == "internal"
            and ml.location_dest_id.usage in BLOCKED_DESTINATIONS
        )
        if not blocked:
            return
        lines = []
        for lot in blocked.lot_id:
            docs = blocked.filtered(lambda ml, lot=lot: ml.lot_id == lot)
            where = ", ".join(
                sorted(
                    {
                        ml.picking_id.name or ml.move_id.production_id.name or ml.move_id.reference or ""
                        for ml in docs
                    }
                )
            )
            lines.append(
                self.env._(
                    "%(text)s Document: %(where)s.", text=lot.sudo()._mfg_hold_blocking_text(), where=where
                )
            )
        raise UserError(
            self.env._(
                "Held lots cannot be delivered, transferred out of stock or consumed:\n%(lines)s\n"
                "Pick another lot, or have quality release the lot (qms.lot_release, or Release on the lot) "
                "and validate again.",
                lines="\n".join(lines),
            )
        )
