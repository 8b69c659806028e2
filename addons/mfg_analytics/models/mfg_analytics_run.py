import json
import logging
import time
from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.mfg_integration_base.pipeline import tx

from ..lib.engine import Exporter, StateStore
from ..lib.facts import FACT_TABLES
from ..lib.parquet_sink import ParquetSink
from ..lib.postgres_sink import PostgresSink

_logger = logging.getLogger(__name__)

# pg_try_advisory_lock(class, target id): one export per target at a time.
EXPORT_LOCK_CLASS = 0x4D464741  # "MFGA"


class MfgAnalyticsRun(models.Model):
    """One export of one target: what it wrote, table by table."""

    _name = "mfg.analytics.run"
    _description = "Analytics Export Run"
    _order = "id desc"

    target_id = fields.Many2one("mfg.analytics.target", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="target_id.company_id", store=True)
    state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("failed", "Failed")], default="running", required=True
    )
    started_at = fields.Datetime(default=fields.Datetime.now, required=True)
    finished_at = fields.Datetime()
    duration_s = fields.Float(string="Duration (s)", digits=(16, 1))
    rows_read = fields.Integer(help="Fact rows read (changed since the watermark, overlap included).")
    rows_exported = fields.Integer(help="Rows written: new facts and new versions.")
    detail = fields.Text(help="Rows exported per fact table (JSON).")
    error = fields.Text()
    checkpoints = fields.Integer(help="Commits during the run: what they covered stays if the run fails.")
    checkpoint_part = fields.Integer(help="Number of the last Parquet file a checkpoint covered.")

    def _mfg_reader(self, single):
        """read(sql, params) -> rows: one short read-only transaction per page in production,
        the caller's transaction when the pipeline runs in one (tests)."""
        if single:
            cr = self.env.cr

            def read(query, params):
                cr.execute(query, params)
                return cr.fetchall()

            return read

        registry = self.env.registry

        def read(query, params):
            with registry.cursor() as rcr:
                rcr.execute("SET TRANSACTION READ ONLY")
                rcr.execute(query, params)
                return rcr.fetchall()

        return read

    @api.model
    def _mfg_execute(self, target, refresh=True):
        """Export ``target``'s changed facts, then (``refresh``) recompute its measures. Returns
        the run (an empty recordset when another export of the target is running)."""
        target = target.sudo()
        cr = self.env.cr
        single = tx.single_transaction(self.env)
        self.env.flush_all()
        cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (EXPORT_LOCK_CLASS, target.id))
        if not cr.fetchone()[0]:
            _logger.info("analytics export of target %s already running: skipped", target.id)
            return self.browse()
        try:
            self._mfg_cleanup_unfinished(target)
            run = self.sudo().create({"target_id": target.id})
            if not single:
                cr.commit()  # pylint: disable=invalid-commit  # the run is recorded before anything leaves, so a crash is cleaned up
            return self._mfg_export_run(target, run, single, refresh)
        finally:
            cr.execute("SELECT pg_advisory_unlock(%s, %s)", (EXPORT_LOCK_CLASS, target.id))

    def _mfg_export_run(self, target, run, single, refresh=True):
        started = time.monotonic()
        sinks = target._mfg_sinks(run.id)
        exporter = Exporter(
            self._mfg_reader(single),
            StateStore(self.env.cr, target.id),
            sinks,
            target.company_id.id,
            run.id,
            fields.Datetime.now(),
            pseudonymise=target._mfg_pseudonymiser(),
            chunk_size=target.chunk_size,
            overlap=timedelta(minutes=target.overlap_minutes),
            max_rows_per_second=target.max_rows_per_second,
            checkpoint=None if single else self._mfg_checkpointer(target, run, sinks),
        )
        detail, total, total_read = {}, 0, 0
        try:
            for name, table in FACT_TABLES.items():
                mark = target._mfg_watermark(name)
                written, read, newest = exporter.export_table(table, mark.watermark)
                mark.write(
                    {
                        "watermark": newest,
                        "rows_exported": mark.rows_exported + written,
                        "last_run_id": run.id,
                    }
                )
                detail[name] = written
                total += written
                total_read += read
            for sink in sinks:
                sink.finish()
            if refresh and (
                total or not self.env["mfg.analytics.oee"].search_count([("target_id", "=", target.id)])
            ):
                self.env["mfg.analytics.oee"]._mfg_refresh_measures(target, sinks)
        except Exception as exc:
            _logger.exception("analytics export of target %s failed", target.id)
            if single:
                for sink in sinks:
                    sink.abort()
                raise
            self.env.cr.rollback()
            for sink in sinks:
                try:
                    sink.abort()
                except Exception:
                    _logger.exception("could not remove what failed run %s wrote", run.id)
            run.write({"state": "failed", "error": str(exc), "finished_at": fields.Datetime.now()})
            self.env.cr.commit()  # pylint: disable=invalid-commit
            raise
        finally:
            for sink in sinks:
                if isinstance(sink, PostgresSink):
                    sink.close()
        run.write(
            {
                "state": "done",
                "finished_at": fields.Datetime.now(),
                "duration_s": time.monotonic() - started,
                "rows_exported": total,
                "rows_read": total_read,
                "detail": json.dumps(detail),
            }
        )
        _logger.info("analytics export run %s: %s rows (%s)", run.id, total, detail)
        return run

    def _mfg_checkpointer(self, target, run, sinks):
        """checkpoint(table, watermark): make the sinks' rows durable, then commit the state,
        the table's watermark and the run, so that the run's transaction stays short; a run
        that fails later keeps what its checkpoints covered."""
        cr = self.env.cr

        def checkpoint(table, watermark):
            part = 0
            for sink in sinks:
                done = sink.checkpoint()
                if isinstance(sink, ParquetSink):
                    part = done
            target._mfg_watermark(table).write({"watermark": watermark, "last_run_id": run.id})
            run.write({"checkpoints": run.checkpoints + 1, "checkpoint_part": part})
            cr.commit()  # pylint: disable=invalid-commit
            for sink in sinks:
                if isinstance(sink, ParquetSink):
                    sink.committed_part = part
                else:
                    sink.checkpointed = True

        return checkpoint

    @api.model
    def _mfg_cleanup_unfinished(self, target):
        """Remove what runs of ``target`` that never finished (process killed) wrote."""
        stale = self.sudo().search([("target_id", "=", target.id), ("state", "=", "running")])
        for run in stale:
            if target.parquet_folder:
                ParquetSink.cleanup(target.parquet_folder, run.id, after=run.checkpoint_part)
            if target.postgres_dsn and not run.checkpoints:  # else PostgreSQL rolled back the rest
                sink = PostgresSink(target.postgres_dsn, target.postgres_schema, run.id)
                try:
                    sink.cleanup_run(run.id)
                finally:
                    sink.close()
            run.write(
                {
                    "state": "failed",
                    "error": "interrupted: what it wrote after its last checkpoint was removed",
                }
            )
