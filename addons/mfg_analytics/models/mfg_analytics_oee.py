import psycopg2

from odoo import api, fields, models

from ..lib import measures
from ..lib.postgres_sink import CONNECT_TIMEOUT

# measure (sql/<name>.sql) -> curated model, and the many2one columns to check exist
CURATED = {
    "oee": ("mfg.analytics.oee", {"workcenter_id": "mrp.workcenter"}),
    "fpy": ("mfg.analytics.fpy", {"product_id": "product.product"}),
    "sla": ("mfg.analytics.sla", {"backend_id": "mfg.backend"}),
}


class MfgAnalyticsOee(models.Model):
    """OEE of a work center on a day, computed from the exported facts (sql/oee.sql), never
    from live tables; replaced by each export run that changed something."""

    _name = "mfg.analytics.oee"
    _description = "OEE (curated)"
    _order = "day desc, workcenter_id"

    target_id = fields.Many2one("mfg.analytics.target", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    workcenter_id = fields.Many2one("mrp.workcenter", string="Work center", ondelete="cascade")
    day = fields.Date(required=True)
    planned_min = fields.Float(string="Planned time (min)", help="Run time + downtime.")
    run_min = fields.Float(string="Run time (min)")
    downtime_min = fields.Float(string="Downtime (min)", help="Availability losses.")
    expected_min = fields.Float(string="Expected time (min)", help="The routing's expected duration.")
    good_qty = fields.Float(string="Good quantity")
    scrap_qty = fields.Float(string="Scrapped quantity")
    availability = fields.Float(aggregator="avg")
    performance = fields.Float(aggregator="avg")
    quality = fields.Float(aggregator="avg")
    oee = fields.Float(string="OEE", aggregator="avg")

    def _mfg_vals(self, target, row):
        vals = {"target_id": target.id}
        for name in (
            "company_id",
            "workcenter_id",
            "day",
            "planned_min",
            "run_min",
            "downtime_min",
            "expected_min",
            "good_qty",
            "scrap_qty",
            "availability",
            "performance",
            "quality",
            "oee",
        ):
            vals[name] = row[name]
        return vals

    @api.model
    def _mfg_compute(self, target):
        """{measure: rows} from the target's exported facts: DuckDB over its Parquet files, else
        the same SQL on its analytics database."""
        target = target.sudo()
        if target.parquet_folder:
            from odoo.addons.mfg_integration_base.lib import safe_files

            return measures.compute_duckdb(safe_files.check_folder(target.parquet_folder))
        cnx = psycopg2.connect(
            target.postgres_dsn, connect_timeout=CONNECT_TIMEOUT, application_name="mfg_analytics"
        )
        try:
            return measures.compute_postgres(cnx, target.postgres_schema)
        finally:
            cnx.close()

    @api.model
    def _mfg_refresh_measures(self, target, sinks=None):
        """Replace the target's curated rows by the measures computed from its facts."""
        computed = self._mfg_compute(target)
        for name, (model, links) in CURATED.items():
            Model = self.env[model].sudo()
            Model.search([("target_id", "=", target.id)]).unlink()
            rows = computed[name]
            existing = {}
            for field_name, comodel in links.items():
                ids = {r[field_name] for r in rows if r[field_name]}
                existing[field_name] = set(self.env[comodel].sudo().browse(ids).exists().ids)
            vals = []
            for row in rows:
                row = dict(row)
                for field_name in links:
                    if row[field_name] not in existing[field_name]:
                        row[field_name] = False
                vals.append(Model._mfg_vals(target, row))
            Model.create(vals)
        return computed
