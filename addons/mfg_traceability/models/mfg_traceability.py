from odoo import api, models
from odoo.tools import create_index

from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339

from ..lib import genealogy


class MfgTraceability(models.AbstractModel):
    """The ORM side of the genealogy (lib/genealogy.py): trees with names, the lots a suspect lot
    went into, their stock and shipments."""

    _name = "mfg.traceability"
    _description = "Lot genealogy"

    def init(self):
        # Genealogy walks look move lines up by lot: Odoo has no index on stock_move_line.lot_id.
        create_index(
            self.env.cr,
            "mfg_trace_stock_move_line_lot_idx",
            "stock_move_line",
            ["lot_id"],
            where="lot_id IS NOT NULL",
        )

    @api.model
    def _mfg_genealogy(self, lot, direction, max_depth=None):
        """The tree of ``lot`` (one stock.lot) in ``direction`` ('upstream': the component lots
        consumed into it, level by level; 'downstream': the lots made from it and, on every lot,
        its shipments to customers). Nodes are dicts: ``lot``, ``product``, ``production``,
        ``quantity``, ``uom``, ids of each, ``depth``, ``children`` (and ``shipments`` downstream,
        ``cycle`` on a lot met again on its own path)."""
        lot.ensure_one()
        self.env.flush_all()  # the walk reads move lines in SQL
        _depths, edge_list = genealogy.edges(self.env.cr, lot.ids, direction, max_depth)
        tree = genealogy.build_tree(lot.id, edge_list, max_depth)
        shipments = {}
        if direction == genealogy.DOWNSTREAM:
            lot_ids = {n["lot_id"] for n in genealogy.walk(tree) if n["lot_id"]}
            for ship in genealogy.shipments(self.env.cr, lot_ids):
                shipments.setdefault(ship.lot_id, []).append(ship)
        return self._mfg_describe(tree, lot, shipments if direction == genealogy.DOWNSTREAM else None)

    @api.model
    def _mfg_beyond_depth(self, tree, direction, max_depth=None):
        """Lot ids of the nodes of ``tree`` at the depth bound that have children of their own
        (not walked): the screen marks them so a cut tree is not read as a complete one."""
        max_depth = genealogy.check_depth(max_depth)
        frontier = {
            n["lot_id"]
            for n in genealogy.walk(tree)
            if n["depth"] == max_depth and n["lot_id"] and not n.get("cycle")
        }
        if not frontier:
            return set()
        _depths, next_edges = genealogy.edges(self.env.cr, frontier, direction, 1)
        return {edge.from_lot for edge in next_edges}

    def _mfg_describe(self, tree, root_lot, shipments):
        env = self.env(su=True)  # names of what the walk found; the caller may read the root lot
        nodes = list(genealogy.walk(tree))
        lots = env["stock.lot"].browse({n["lot_id"] for n in nodes if n["lot_id"]})
        products = env["product.product"].browse({n["product_id"] for n in nodes if n["product_id"]})
        orders = env["mrp.production"].browse({n["production_id"] for n in nodes if n["production_id"]})
        ships = [s for lot_ships in (shipments or {}).values() for s in lot_ships]
        pickings = env["stock.picking"].browse({s.picking_id for s in ships if s.picking_id})
        partners = env["res.partner"].browse({s.partner_id for s in ships if s.partner_id})
        lot_by_id = {lot.id: lot for lot in lots}
        product_by_id = {p.id: p for p in products | lots.product_id | root_lot.sudo().product_id}
        order_by_id = {o.id: o for o in orders}
        picking_by_id = {p.id: p for p in pickings}
        partner_by_id = {p.id: p for p in partners}

        def describe(node):
            lot = lot_by_id.get(node["lot_id"]) or (root_lot.sudo() if node["depth"] == 0 else None)
            product = product_by_id.get(node["product_id"]) or (lot.product_id if lot else None)
            order = order_by_id.get(node["production_id"])
            item = {
                "lot": lot.name if lot else None,
                "lot_id": lot.id if lot else None,
                "product": (product.default_code or product.display_name) if product else None,
                "product_id": product.id if product else None,
                "production": order.name if order else None,
                "production_id": order.id if order else None,
                "quantity": node["quantity"],
                "uom": product.uom_id.name if product and node["quantity"] is not None else None,
                "depth": node["depth"],
                "children": [describe(child) for child in node["children"]],
            }
            if node.get("cycle"):
                item["cycle"] = True
            if shipments is not None and lot and not node.get("cycle"):
                item["shipments"] = [
                    {
                        "picking": picking_by_id[s.picking_id].name if s.picking_id else None,
                        "picking_id": s.picking_id,
                        "customer": partner_by_id[s.partner_id].display_name if s.partner_id else None,
                        "customer_id": s.partner_id,
                        "quantity": s.quantity,
                        "date": format_rfc3339(s.date),
                    }
                    for s in shipments.get(lot.id, ())
                ]
            return item

        return describe(tree)

    @api.model
    def _mfg_affected_lots(self, lot, max_depth=None):
        """``lot`` and every lot made from it, at any level (stock.lot)."""
        self.env.flush_all()
        depths = genealogy.reach(self.env.cr, lot.ids, genealogy.DOWNSTREAM, max_depth)
        return self.env["stock.lot"].browse(sorted(depths))

    @api.model
    def _mfg_shipments(self, lots):
        """Done move lines of ``lots`` into customer locations (stock.move.line)."""
        return self.env["stock.move.line"].search(
            [
                ("lot_id", "in", lots.ids),
                ("state", "=", "done"),
                ("location_dest_id.usage", "=", "customer"),
                ("location_id.usage", "!=", "customer"),
            ],
            order="date, id",
        )

    @api.model
    def _mfg_open_stock(self, lots):
        """Quants of ``lots`` on hand in internal locations (stock.quant)."""
        return self.env["stock.quant"].search(
            [("lot_id", "in", lots.ids), ("location_id.usage", "=", "internal"), ("quantity", ">", 0)],
            order="location_id, lot_id",
        )
