import logging
import secrets

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import config

from odoo.addons.mfg_integration_base.lib import safe_files

from ..lib.engine import STATE_DDL
from ..lib.facts import FACT_TABLES
from ..lib.parquet_sink import ParquetSink
from ..lib.postgres_sink import PostgresSink, check_dsn
from ..lib.pseudonym import Pseudonymiser

_logger = logging.getLogger(__name__)

PSEUDONYM_KEY_PARAM = "mfg_analytics.pseudonym_key"


class MfgAnalyticsTarget(models.Model):
    """Where one company's curated facts go: a Parquet folder and/or a schema of a separate
    analytics PostgreSQL database. The export itself is ``mfg.analytics.run``'s."""

    _name = "mfg.analytics.target"
    _description = "Analytics Export Target"
    _order = "company_id, name"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    parquet_folder = fields.Char(
        string="Parquet folder",
        help="Server folder of the Parquet files, under one of the roots of [mfg_integration] file_roots. "
        "Files: <folder>/<table>/day=YYYY-MM-DD/<run>-<n>.parquet. Empty: no Parquet export.",
    )
    postgres_dsn = fields.Char(
        string="Analytics database (DSN)",
        groups="base.group_system",
        help="libpq connection string of a separate analytics database, e.g. "
        "'host=warehouse dbname=analytics user=mfg'. A secret: only system administrators see it. "
        "Empty: no PostgreSQL export.",
    )
    postgres_schema = fields.Char(string="Analytics schema", default="mfg_analytics", required=True)
    pseudonymise = fields.Boolean(
        string="Pseudonymise names",
        default=True,
        help="People's names (responsible users, inspectors, who held a lot) leave Odoo as keyed "
        "pseudonyms (HMAC-SHA256 with a key of this database): stable, not reversible without the key.",
    )
    chunk_size = fields.Integer(default=5000, help="Rows read per statement (a page of the keyset read).")
    overlap_minutes = fields.Integer(
        default=10,
        help="How far behind its watermark each run re-reads (transactions that committed late). "
        "Rows re-read unchanged are not exported again.",
    )
    max_rows_per_second = fields.Integer(
        string="Rows per second (at most)",
        default=0,
        help="Slows a large export down so that it leaves the CPU to ingest on a small server "
        "(0: as fast as it goes). Pauses happen between reads, outside any transaction on the pipeline's tables.",
    )
    rows_per_file = fields.Integer(default=100000, help="At most this many rows per Parquet file.")
    run_ids = fields.One2many("mfg.analytics.run", "target_id", string="Runs")
    watermark_ids = fields.One2many("mfg.analytics.watermark", "target_id", string="Watermarks")
    last_run_id = fields.Many2one("mfg.analytics.run", compute="_compute_last_run")
    last_run_state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("failed", "Failed")],
        compute="_compute_last_run",
        string="Last run",
    )
    last_run_at = fields.Datetime(compute="_compute_last_run", string="Last run at")

    _sql_constraints = [
        ("chunk_positive", "CHECK (chunk_size > 0)", "Rows per read must be positive."),
        ("overlap_positive", "CHECK (overlap_minutes >= 0)", "The overlap cannot be negative."),
        ("rows_per_file_positive", "CHECK (rows_per_file > 0)", "Rows per file must be positive."),
        (
            "max_rows_per_second_positive",
            "CHECK (max_rows_per_second >= 0)",
            "Rows per second cannot be negative.",
        ),
    ]

    def init(self):
        self.env.cr.execute(STATE_DDL)
        # The message facts are read in (write_date, id) pages: without this index every page
        # would scan the whole message table.
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS mfg_message_analytics_idx ON mfg_message (write_date, id)"
        )

    def _compute_last_run(self):
        for target in self:
            run = target.run_ids[:1]
            target.last_run_id = run
            target.last_run_state = run.state
            target.last_run_at = run.started_at

    # ------------------------------------------------------------------ checks
    @api.constrains("parquet_folder")
    def _check_parquet_folder(self):
        for target in self:
            if not target.parquet_folder:
                continue
            try:
                safe_files.check_folder(target.parquet_folder)
            except safe_files.PathRefused as exc:
                raise ValidationError(
                    self.env._(
                        "Parquet folder %(value)s is refused: %(why)s. It must lie under one of the "
                        "folders of [mfg_integration] file_roots (%(roots)s).",
                        value=target.parquet_folder,
                        why=str(exc),
                        roots=", ".join(safe_files.configured_roots()),
                    )
                ) from None

    @api.constrains("postgres_dsn", "postgres_schema")
    def _check_postgres(self):
        for target in self.sudo():
            if target.postgres_dsn:
                problem = check_dsn(
                    target.postgres_dsn, self.env.cr.dbname, config.get("db_host"), config.get("db_port")
                )
                if problem:
                    raise ValidationError(
                        self.env._(
                            "Analytics database (DSN) of %(target)s is refused: %(why)s.",
                            target=target.name,
                            why=problem,
                        )
                    )
            schema = target.postgres_schema or ""
            if not schema.replace("_", "").isalnum() or not schema[:1].isalpha() or len(schema) > 63:
                raise ValidationError(
                    self.env._(
                        "Analytics schema %(value)s is not a plain name: use letters, digits and "
                        "underscores, starting with a letter.",
                        value=schema,
                    )
                )

    @api.constrains("name", "parquet_folder", "postgres_dsn")
    def _check_has_destination(self):
        for target in self.sudo():
            if not target.parquet_folder and not target.postgres_dsn:
                raise ValidationError(
                    self.env._(
                        "Target %(target)s has no destination: set a Parquet folder or an analytics "
                        "database (DSN).",
                        target=target.name,
                    )
                )

    # ------------------------------------------------------------------ engine glue
    def _mfg_sinks(self, run_id):
        self.ensure_one()
        target = self.sudo()
        sinks = []
        if target.parquet_folder:
            sinks.append(ParquetSink(target.parquet_folder, run_id, rows_per_file=target.rows_per_file))
        if target.postgres_dsn:
            sinks.append(PostgresSink(target.postgres_dsn, target.postgres_schema, run_id))
        return sinks

    def _mfg_pseudonymiser(self):
        self.ensure_one()
        if not self.pseudonymise:
            return None
        params = self.env["ir.config_parameter"].sudo()
        key = params.get_param(PSEUDONYM_KEY_PARAM)
        if not key:
            key = secrets.token_hex(32)
            params.set_param(PSEUDONYM_KEY_PARAM, key)
        return Pseudonymiser(key)

    def _mfg_watermark(self, table):
        self.ensure_one()
        Watermark = self.env["mfg.analytics.watermark"].sudo()
        mark = Watermark.search([("target_id", "=", self.id), ("fact_table", "=", table)], limit=1)
        return mark or Watermark.create({"target_id": self.id, "fact_table": table})

    # ------------------------------------------------------------------ actions, cron, job
    def action_export_now(self):
        for target in self:
            target.with_delay(description=f"Analytics export: {target.name}")._mfg_export()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": self.env._("Export queued."), "type": "success", "sticky": False},
        }

    @api.model
    def _cron_mfg_analytics_export(self):
        """Scheduled: one export job per active target (the job does the work, off the cron)."""
        for target in self.search([("company_id", "!=", False)]):
            target.with_delay(description=f"Analytics export: {target.name}")._mfg_export()

    def _mfg_export(self):
        """Job target: export the facts of each target, then refresh its measures."""
        runs = self.env["mfg.analytics.run"]
        for target in self:
            runs |= runs._mfg_execute(target)
        return runs

    def action_view_runs(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Export runs"),
            "res_model": "mfg.analytics.run",
            "view_mode": "list,form",
            "domain": [("target_id", "=", self.id)],
        }

    @api.model
    def _mfg_fact_tables(self):
        return list(FACT_TABLES)
