from odoo import fields, models


class StockWarehouse(models.Model):
    _inherit = "stock.warehouse"

    mfg_quarantine_location_id = fields.Many2one(
        "stock.location",
        string="Quarantine location",
        domain="[('usage', '=', 'internal'), ('company_id', 'in', [False, company_id])]",
        check_company=True,
        help="When set, a lot put on quality hold is moved from this warehouse's stock to this location "
        "by a validated internal transfer. A release does not move it back: transfer it by hand.",
    )
