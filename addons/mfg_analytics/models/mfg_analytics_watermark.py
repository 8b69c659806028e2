from odoo import fields, models

from ..lib.facts import FACT_TABLES


class MfgAnalyticsWatermark(models.Model):
    """How far one target's export of one fact table got: the latest change it exported."""

    _name = "mfg.analytics.watermark"
    _description = "Analytics Export Watermark"
    _order = "target_id, fact_table"

    target_id = fields.Many2one("mfg.analytics.target", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="target_id.company_id", store=True)
    fact_table = fields.Selection([(n, n) for n in FACT_TABLES], required=True)
    watermark = fields.Datetime(help="Latest change (write date of its sources) exported.")
    rows_exported = fields.Integer()
    last_run_id = fields.Many2one("mfg.analytics.run", ondelete="set null")

    _sql_constraints = [
        ("target_table_uniq", "unique(target_id, fact_table)", "One watermark per target and fact table."),
    ]
