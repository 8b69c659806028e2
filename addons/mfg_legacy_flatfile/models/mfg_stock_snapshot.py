from odoo import api, fields, models
from odoo.tools import float_compare


class MfgStockSnapshot(models.Model):
    """The plant's own stock list (one file), compared with Odoo's on-hand quantities."""

    _name = "mfg.stock.snapshot"
    _description = "Plant Stock Snapshot"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(string="Reference", required=True, readonly=True)
    backend_id = fields.Many2one("mfg.backend", required=True, readonly=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    line_ids = fields.One2many(
        "mfg.stock.snapshot.line", "snapshot_id", string="Plant quantities", readonly=True
    )
    difference_ids = fields.One2many(
        "mfg.stock.snapshot.difference", "snapshot_id", string="Differences", readonly=True
    )
    line_count = fields.Integer(compute="_compute_counts")
    difference_count = fields.Integer(compute="_compute_counts")
    compared_at = fields.Datetime(readonly=True, help="Empty: lines arrived since the last comparison.")

    _sql_constraints = [
        ("name_uniq", "unique(backend_id, name)", "A snapshot reference is unique per backend.")
    ]

    @api.depends("line_ids", "difference_ids")
    def _compute_counts(self):
        for snap in self:
            snap.line_count = len(snap.line_ids)
            snap.difference_count = len(snap.difference_ids)

    def action_compare(self):
        """Recompute the differences: every product/lot/location of the plant's list whose
        quantity differs from Odoo's on-hand quantity there, and every on-hand quantity in the
        locations the list covers that the list does not mention."""
        for snap in self:
            snap.difference_ids.unlink()
            plant = {}
            for line in snap.line_ids:
                key = (line.product_id.id, line.location_id.id, line.lot_name or "")
                plant[key] = plant.get(key, 0.0) + line.quantity
            locations = snap.line_ids.location_id
            odoo = {}
            for quant in (
                self.env["stock.quant"]
                .sudo()
                .search([("location_id", "in", locations.ids), ("company_id", "=", snap.company_id.id)])
            ):
                key = (quant.product_id.id, quant.location_id.id, quant.lot_id.name or "")
                odoo[key] = odoo.get(key, 0.0) + quant.quantity
            Product = self.env["product.product"]
            diffs = []
            for key in sorted(set(plant) | set(odoo)):
                product = Product.browse(key[0])
                plant_qty, odoo_qty = plant.get(key, 0.0), odoo.get(key, 0.0)
                if float_compare(plant_qty, odoo_qty, precision_rounding=product.uom_id.rounding):
                    diffs.append(
                        {
                            "snapshot_id": snap.id,
                            "product_id": key[0],
                            "location_id": key[1],
                            "lot_name": key[2] or False,
                            "plant_quantity": plant_qty,
                            "odoo_quantity": odoo_qty,
                        }
                    )
            self.env["mfg.stock.snapshot.difference"].create(diffs)
            snap.compared_at = fields.Datetime.now()
        return True

    def action_view_differences(self):
        self.ensure_one()
        if not self.compared_at:
            self.action_compare()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_legacy_flatfile.action_mfg_stock_snapshot_difference"
        )
        action["domain"] = [("snapshot_id", "=", self.id)]
        return action


class MfgStockSnapshotLine(models.Model):
    _name = "mfg.stock.snapshot.line"
    _description = "Plant Stock Snapshot Line"
    _order = "snapshot_id, location_id, product_id"

    snapshot_id = fields.Many2one("mfg.stock.snapshot", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="snapshot_id.company_id", store=True)
    product_id = fields.Many2one("product.product", required=True, index=True)
    location_id = fields.Many2one("stock.location", required=True)
    lot_id = fields.Many2one("stock.lot")
    lot_name = fields.Char(string="Lot/serial")
    quantity = fields.Float(digits="Product Unit of Measure")
    uom_id = fields.Many2one(related="product_id.uom_id")


class MfgStockSnapshotDifference(models.Model):
    _name = "mfg.stock.snapshot.difference"
    _description = "Plant Stock Difference"
    _order = "snapshot_id, location_id, product_id, lot_name"

    snapshot_id = fields.Many2one("mfg.stock.snapshot", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="snapshot_id.company_id", store=True)
    product_id = fields.Many2one("product.product", required=True)
    location_id = fields.Many2one("stock.location", required=True)
    lot_name = fields.Char(string="Lot/serial")
    plant_quantity = fields.Float(digits="Product Unit of Measure")
    odoo_quantity = fields.Float(digits="Product Unit of Measure")
    difference = fields.Float(compute="_compute_difference", store=True, digits="Product Unit of Measure")
    uom_id = fields.Many2one(related="product_id.uom_id")

    @api.depends("plant_quantity", "odoo_quantity")
    def _compute_difference(self):
        for diff in self:
            diff.difference = diff.plant_quantity - diff.odoo_quantity
