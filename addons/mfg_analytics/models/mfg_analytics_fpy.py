from odoo import fields, models


class MfgAnalyticsFpy(models.Model):
    """First-pass yield of a product on a day, computed from the exported inspection facts
    (sql/fpy.sql); replaced by each export run that changed something."""

    _name = "mfg.analytics.fpy"
    _description = "First-Pass Yield (curated)"
    _order = "day desc, product_id"

    target_id = fields.Many2one("mfg.analytics.target", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    product_id = fields.Many2one("product.product", ondelete="cascade")
    day = fields.Date(required=True)
    lots_inspected = fields.Integer(help="Lots whose first inspection was on this day.")
    lots_first_pass = fields.Integer(help="Of those, lots whose first inspection passed.")
    fpy = fields.Float(
        string="First-pass yield", aggregator="avg", help="lots first pass / lots inspected (0-1)."
    )

    def _mfg_vals(self, target, row):
        return {
            "target_id": target.id,
            "company_id": row["company_id"],
            "product_id": row["product_id"],
            "day": row["day"],
            "lots_inspected": row["lots_inspected"],
            "lots_first_pass": row["lots_first_pass"],
            "fpy": row["fpy"],
        }
