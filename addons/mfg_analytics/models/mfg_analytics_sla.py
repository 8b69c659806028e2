from odoo import fields, models


class MfgAnalyticsSla(models.Model):
    """Latency percentiles of one flow (backend, exchange type, direction) on a day, computed
    from the exported message facts (sql/sla.sql)."""

    _name = "mfg.analytics.sla"
    _description = "Integration SLA (curated)"
    _order = "day desc, backend_id, exchange_type"

    target_id = fields.Many2one("mfg.analytics.target", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    backend_id = fields.Many2one("mfg.backend", ondelete="cascade")
    exchange_type = fields.Char(string="Exchange type")
    direction = fields.Selection([("inbound", "Inbound"), ("outbound", "Outbound")])
    day = fields.Date(required=True)
    messages = fields.Integer()
    done = fields.Integer()
    failed = fields.Integer(help="Rejected, failed or dead.")
    retried = fields.Integer(help="Messages that needed more than one attempt.")
    p50_ms = fields.Float(string="p50 latency (ms)", aggregator="max")
    p90_ms = fields.Float(string="p90 latency (ms)", aggregator="max")
    p99_ms = fields.Float(string="p99 latency (ms)", aggregator="max")

    def _mfg_vals(self, target, row):
        return {
            "target_id": target.id,
            "company_id": row["company_id"],
            "backend_id": row["backend_id"],
            "exchange_type": row["exchange_type"],
            "direction": row["direction"],
            "day": row["day"],
            "messages": row["messages"],
            "done": row["done"],
            "failed": row["failed"],
            "retried": row["retried"],
            "p50_ms": row["p50_ms"],
            "p90_ms": row["p90_ms"],
            "p99_ms": row["p99_ms"],
        }
