import logging

from odoo import models

_logger = logging.getLogger(__name__)


class StockLotQuarantine(models.Model):
    """Quarantine of held lots: the stock of a lot put on hold moves to the warehouse's
    quarantine location by a validated transfer (see stock_lot.py for holds)."""

    _inherit = "stock.lot"

    # ------------------------------------------------------------------ quarantine
    def _mfg_move_to_quarantine(self):
        """Move this held lot's on-hand stock to the quarantine location of every warehouse (of
        its company) that has one: one internal transfer per warehouse, validated at once.
        Moving into quarantine is an internal move, which the hold allows. Open move lines of the
        lot there (reserved or picked by deliveries, MOs...) are removed first and their moves
        reserve again (other lots).
        Never blocks the hold: a failure is posted on the lot. Returns the transfers."""
        self.ensure_one()
        lot = self.sudo()
        pickings = self.env["stock.picking"].sudo()
        domain = [("mfg_quarantine_location_id", "!=", False)]
        if lot.company_id:
            domain.append(("company_id", "=", lot.company_id.id))
        for warehouse in self.env["stock.warehouse"].sudo().search(domain):
            quarantine = warehouse.mfg_quarantine_location_id
            quants = (
                self.env["stock.quant"]
                .sudo()
                .search(
                    [
                        ("lot_id", "=", lot.id),
                        ("location_id", "child_of", warehouse.lot_stock_id.id),
                        ("quantity", ">", 0),
                    ]
                )
                .filtered(lambda q, qt=quarantine: not q.location_id._child_of(qt))
            )
            if not quants:
                continue
            try:
                with self.env.cr.savepoint():
                    pickings |= lot.with_company(warehouse.company_id)._mfg_quarantine_transfer(
                        warehouse, quants
                    )
            except Exception as exc:  # the hold stands, whatever happens to the transfer
                _logger.warning("mfg: lot %s not moved to quarantine: %s", lot.name, exc)
                lot.message_post(
                    body=self.env._(
                        "Could not move the lot to quarantine location %(loc)s: %(error)s. Move it by hand.",
                        loc=quarantine.display_name,
                        error=exc,
                    )
                )
        return pickings

    def _mfg_quarantine_transfer(self, warehouse, quants):
        self.ensure_one()
        quarantine = warehouse.mfg_quarantine_location_id
        product = self.product_id
        MoveLine = self.env["stock.move.line"]
        reserved = MoveLine.search(
            [
                ("lot_id", "=", self.id),
                ("location_id", "in", quants.location_id.ids),
                ("state", "not in", ("done", "cancel")),
            ]
        )
        # Open moves that reserved (or picked) the lot there now point at stock that is gone.
        reserved_moves = reserved.move_id
        reserved.unlink()
        reserved_moves.filtered(lambda m: m.picked and not m.move_line_ids).picked = False
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": warehouse.int_type_id.id,
                "location_id": warehouse.lot_stock_id.id,
                "location_dest_id": quarantine.id,
                "company_id": warehouse.company_id.id,
                "origin": self.env._("Quality hold of %(lot)s", lot=self.name),
            }
        )
        move = self.env["stock.move"].create(
            {
                "name": self.env._("Quarantine %(lot)s", lot=self.name),
                "picking_id": picking.id,
                "product_id": product.id,
                "product_uom": product.uom_id.id,
                "product_uom_qty": sum(quants.mapped("quantity")),
                "location_id": warehouse.lot_stock_id.id,
                "location_dest_id": quarantine.id,
                "company_id": warehouse.company_id.id,
            }
        )
        move._action_confirm()
        move.move_line_ids.unlink()
        MoveLine.create(
            [
                {
                    "move_id": move.id,
                    "picking_id": picking.id,
                    "product_id": product.id,
                    "product_uom_id": product.uom_id.id,
                    "lot_id": self.id,
                    "quantity": quant.quantity,
                    "location_id": quant.location_id.id,
                    "location_dest_id": quarantine.id,
                    "package_id": quant.package_id.id or False,
                    "owner_id": quant.owner_id.id or False,
                }
                for quant in quants
            ]
        )
        move.picked = True
        picking._action_done()
        reserved_moves.exists().filtered(
            lambda m: not m.picked and m.state in ("confirmed", "partially_available", "assigned")
        )._action_assign()
        picking.message_post(
            body=self.env._(
                "Moved to quarantine because lot %(lot)s was put on quality hold (%(reason)s).",
                lot=self.name,
                reason=self.mfg_hold_reason or "-",
            )
        )
        return picking
