import logging
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..pipeline import claim as claims
from ..pipeline import drain, tx
from ..pipeline.states import PENDING_STATES
from .mfg_code_mapping import MAPPING_KINDS

_logger = logging.getLogger(__name__)

CONTACT_INTERVAL = 1.0  # seconds: the last contact of a backend is written at most this often
_contact_written = {}  # (database, backend id) -> time.monotonic() of this process's last write

SYSTEM_KINDS = [
    ("mes", "MES"),
    ("quality", "Quality / LIMS"),
    ("scada", "SCADA gateway"),
    ("wms", "WMS"),
    ("legacy", "Legacy (flat files)"),
    ("other", "Other"),
]


class MfgBackend(models.Model):
    """One plant system Odoo talks to (one per plant and system): connection, flows, health."""

    _name = "mfg.backend"
    _description = "Integration Backend (plant system)"
    _inherit = ["mail.thread", "mail.activity.mixin", "mfg.handler.mixin"]
    _order = "sequence, name"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(
        required=True,
        tracking=True,
        help="Short unique code used in REST URLs and MQTT topics, e.g. plant1-mes.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, tracking=True, index=True
    )
    warehouse_id = fields.Many2one(
        "stock.warehouse", string="Plant warehouse", tracking=True, domain="[('company_id', '=', company_id)]"
    )
    plant_code = fields.Char(tracking=True, help="The plant's code in topics and payloads, e.g. P01.")
    system_kind = fields.Selection(SYSTEM_KINDS, default="mes", required=True, tracking=True)
    flow_ids = fields.One2many(
        "mfg.backend.flow", "backend_id", string="Flows", context={"active_test": False}
    )
    mapping_ids = fields.One2many("mfg.code.mapping", "backend_id", string="Code mappings")
    mapping_count = fields.Integer(compute="_compute_mapping_count")
    use_odoo_codes = fields.Boolean(
        string="Fall back to Odoo codes",
        default=True,
        tracking=True,
        help="When no code mapping matches, look the plant code up in Odoo itself (product internal "
        "reference, work center code, location barcode...).",
    )
    quantity_tolerance = fields.Float(
        string="Quantity rounding tolerance (%)",
        default=0.0,
        digits=(16, 4),
        tracking=True,
        help="0 (default): a reported quantity that Odoo cannot book exactly (unit rounding, 'Product Unit "
        "of Measure' precision) fails its message. Above 0: a change up to this percentage of the quantity "
        "is booked and recorded on the message (Rounded quantities).",
    )
    # Health
    last_contact_at = fields.Datetime(string="Last message received", readonly=True)
    last_error = fields.Text(readonly=True)
    remote_status = fields.Selection(
        [("running", "Running"), ("degraded", "Degraded"), ("stopped", "Stopped")],
        readonly=True,
        help="Last status the system reported (plant.heartbeat).",
    )
    remote_status_at = fields.Datetime(readonly=True)
    remote_status_detail = fields.Char(readonly=True)

    _sql_constraints = [("code_uniq", "unique(code)", "The backend code must be unique.")]

    # ------------------------------------------------------------------ computes
    def _compute_mapping_count(self):
        groups = self.env["mfg.code.mapping"]._read_group(
            [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
        )
        counts = {b.id: c for b, c in groups}
        for rec in self:
            rec.mapping_count = counts.get(rec.id, 0)

    # ------------------------------------------------------------------ flows (system of record)
    def _mfg_flow(self, exchange_type):
        self.ensure_one()
        return self.flow_ids.filtered(lambda f: f.exchange_type_id == exchange_type and f.active)[:1]

    @api.model
    def _mfg_backends_with_flow(self, exchange_type_code, domain=None):
        """Active backends (sudo) with an active flow of ``exchange_type_code``, narrowed by a
        backend ``domain`` (e.g. the company or the plant warehouse): who gets an outbound message."""
        etype = self.env["mfg.exchange.type"].sudo()._find(exchange_type_code)
        if not etype:
            return self.sudo().browse()
        flows = (
            self.env["mfg.backend.flow"]
            .sudo()
            .search(
                [("exchange_type_id", "=", etype.id), ("active", "=", True), ("backend_id.active", "=", True)]
            )
        )
        return flows.backend_id.filtered_domain(domain or [])

    def _mfg_check_flow(self, exchange_type, direction):
        """Refuse a message of an exchange type this backend has no active flow for (system-of-record policy)."""
        self.ensure_one()
        if exchange_type.direction != direction:
            raise UserError(
                self.env._(
                    "Exchange type %(type)s is %(dir)s, not %(want)s.",
                    type=exchange_type.contract,
                    dir=exchange_type.direction,
                    want=direction,
                )
            )
        if not self._mfg_flow(exchange_type):
            raise UserError(
                self.env._(
                    "Backend %(backend)s is not enabled for exchange type %(type)s: add it to the backend's "
                    "flows to accept these messages.",
                    backend=self.code,
                    type=exchange_type.contract,
                )
            )

    def _mfg_touch_contact(self):
        """Remember when the plant last sent something. Under load many requests of one backend
        arrive at once: updating its row in each request's transaction made them conflict
        (serialization failures, then HTTP 500 — found by the REST storm fault test). So: its
        own short READ COMMITTED transaction, at most once a second, rows another request is
        updating right now skipped, and never a reason to fail the receive. NO KEY UPDATE: the
        caller's inserts of messages hold a KEY SHARE lock on the backend row (foreign key), which
        FOR UPDATE would conflict with, so the row was always skipped (MQTT ingest never updated
        the last contact)."""
        query = """
            UPDATE mfg_backend SET last_contact_at = now() AT TIME ZONE 'UTC'
             WHERE id IN (SELECT id FROM mfg_backend
                           WHERE id IN %s AND (last_contact_at IS NULL
                                 OR last_contact_at < (now() AT TIME ZONE 'UTC') - interval '1 second')
                             FOR NO KEY UPDATE SKIP LOCKED)"""
        if self._mfg_single_transaction():
            self.env.cr.execute(query, (tuple(self.ids),))
        else:
            # A busy receiver (the MQTT listener: a batch every few ms) skips even the
            # transaction for a backend this process wrote less than a second ago.
            now, db = time.monotonic(), self.env.cr.dbname
            ids = [
                i
                for i in self.ids
                if now - _contact_written.get((db, i), -CONTACT_INTERVAL) >= CONTACT_INTERVAL
            ]
            if not ids:
                return
            try:
                with self.env.registry.cursor() as cr:
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    cr.execute(query, (tuple(ids),))
                for i in ids:
                    _contact_written[(db, i)] = now
            except Exception:  # a contact time is not worth losing a message
                _logger.warning("mfg: could not record the last contact of %s", ids, exc_info=True)
        self.invalidate_recordset(["last_contact_at"])

    # ------------------------------------------------------------------ code mappings
    # The resolvers live on mfg.code.mapping (one place); these delegates keep handlers short.
    def _mfg_resolve(self, kind, code, required=True, product=None, path=None):
        """See mfg.code.mapping._mfg_resolve (MfgMappingError when ``required`` and unknown)."""
        return self.env["mfg.code.mapping"]._mfg_resolve(self, kind, code, required, product, path)

    def _mfg_code_for(self, kind, record, default=None):
        """See mfg.code.mapping._mfg_code_for (the plant's code of an Odoo record)."""
        return self.env["mfg.code.mapping"]._mfg_code_for(self, kind, record, default)

    def _mfg_resolve_uncached(self, kind, code, model, fallback_field):
        return self.env["mfg.code.mapping"]._mfg_resolve_uncached(self, kind, code, model, fallback_field)

    # ------------------------------------------------------------------ outbox
    def _mfg_outbox(self, exchange_type_code, payload, ordering_key=None, correlation_id=None, headers=None):
        """Write an outbound message in the caller's transaction: see mfg.outbox._mfg_put."""
        return self.env["mfg.outbox"]._mfg_put(
            self,
            exchange_type_code,
            payload,
            ordering_key=ordering_key,
            correlation_id=correlation_id,
            headers=headers,
        )

    # ------------------------------------------------------------------ drain jobs (pipeline/drain.py)
    # Thin hooks under the names queue_job (job target: _mfg_drain), the crons, the connectors and
    # the tests use; the engine calls them back by name, so an addon may override any step.
    def _mfg_enqueue_drain(self, direction, channel, eta=None, sync_class="realtime", partition=None):
        """Start drain jobs for this backend and channel once this transaction has committed
        (``drain.enqueue``). ``sync_class``: 'realtime' drains real-time types only (batch types
        wait for their cron), 'all' drains every type (retries, manual actions, the batch cron)."""
        return drain.enqueue(self, direction, channel, eta, sync_class, partition)

    def _mfg_enqueue_drain_now(
        self, direction, channel, eta=None, sync_class="realtime", partition=None, deduplicate=True
    ):
        """The drain jobs of ``_mfg_enqueue_drain``, in this transaction (``drain.enqueue_now``)."""
        return drain.enqueue_now(self, direction, channel, eta, sync_class, partition, deduplicate)

    def _mfg_drain(
        self,
        direction="inbound",
        channel="root.mfg",
        include_batch=False,
        limit=drain.DRAIN_BATCH,
        partition=0,
        partitions=1,
    ):
        """Job: claim a batch of due messages, process it, commit (``drain.drain``)."""
        return drain.drain(self, direction, channel, include_batch, limit, partition, partitions)

    def _mfg_schedule_next_retry(self, direction, channel, type_ids, own_partition, part):
        """A drain for the earliest retry of this partition not due yet (``drain.schedule_next_retry``)."""
        return drain.schedule_next_retry(self, direction, channel, type_ids, own_partition, part)

    def _mfg_claim_lock(self, cr, own_transaction=True):
        """Hold a fresh claim lock on ``cr``'s connection (see ``pipeline.claim.claim_lock``)."""
        return claims.claim_lock(cr, own_transaction=own_transaction)

    def _mfg_drain_type_ids(self, channel, include_batch):
        return drain.drain_type_ids(self.env, channel, include_batch)

    def _mfg_single_transaction(self):
        """Run in this transaction only (see pipeline/tx.py)."""
        return tx.single_transaction(self.env)

    def _mfg_process_claimed(self, messages, token, restart=None):
        """Apply claimed messages (runs, batches, order per key); give back those their key
        holds; ``restart``: commits, to redo work hit by a concurrent update in a fresh
        transaction (``drain.process_claimed``)."""
        return drain.process_claimed(self, messages, token, restart=restart)

    def _mfg_apply_run(self, run, batch):
        """Apply ``run`` in one savepoint; True when every one is done (``drain.apply_run``)."""
        return drain.apply_run(self.env, run, batch)

    def _mfg_apply_batch(self, msgs, batch):
        """Apply ``msgs`` with their type's batch handler in one savepoint; True when all are
        done (``drain.apply_batch``)."""
        return drain.apply_batch(self.env, msgs, batch)

    def _register_hook(self):
        """At start-up: start drains for the claims of drains that died with the previous server."""
        super()._register_hook()
        drain.resume_at_start(self)

    @api.model
    def _mfg_resume_orphaned_claims(self):
        """Re-queue the drain jobs of a dead server, and start drains for their claims."""
        return drain.resume_orphaned_claims(self)

    @api.model
    def _mfg_requeue_dead_drain_jobs(self):
        """Drain jobs left 'enqueued' or 'started' by a server that died, back to 'pending'."""
        return drain.requeue_dead_drain_jobs(self.env.cr)

    @api.model
    def _cron_mfg_drain_due(self):
        """Safety net and batch exchange types: start drains where due messages wait without a job, or
        where a drain died holding claims."""
        drain.start_due_drains(self)

    # ------------------------------------------------------------------ UI actions
    def _mfg_messages_action(self, domain):
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_integration_base.action_mfg_message")
        action["domain"] = [("backend_id", "in", self.ids)] + domain
        action["context"] = {}
        return action

    def action_view_messages(self):
        return self._mfg_messages_action([])

    def action_view_failed(self):
        return self._mfg_messages_action([("state", "=", "failed")])

    def action_view_dead(self):
        return self._mfg_messages_action([("state", "=", "dead")])

    def action_view_pending(self):
        return self._mfg_messages_action([("state", "in", list(PENDING_STATES))])

    def action_view_mappings(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_integration_base.action_mfg_code_mapping")
        action["domain"] = [("backend_id", "in", self.ids)]
        action["context"] = {"default_backend_id": self.id}
        return action

    def action_test_connection(self):
        """Test every transport set up on this backend (mfg.transport: ``_mfg_is_configured``,
        ``_mfg_test_connection``); record each outcome in the transport's error field (a failure's
        text, or cleared) and report every test in one notification."""
        self.ensure_one()
        _ = self.env._
        transports = [t for t in self.env["mfg.transport"]._mfg_transports() if t._mfg_is_configured(self)]
        if not transports:
            hints = [t._mfg_setup_hint() for t in self.env["mfg.transport"]._mfg_transports()]
            raise UserError(
                _(
                    "Backend %(b)s has nothing to test: set up one of its transports: %(hints)s.",
                    b=self.code,
                    hints="; ".join(h for h in hints if h),
                )
            )
        lines, errors = [], {}
        for transport in transports:
            ok, text = transport._mfg_test_connection(self)
            lines.append(text)
            failures = errors.setdefault(transport._mfg_error_field, [])
            if not ok:
                failures.append(text)
        for fname, failures in errors.items():
            text = "\n".join(failures) or False
            if text and self._fields[fname].type == "char":
                text = text[:250]
            self[fname] = text
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Connection test"),
                "message": "\n".join(lines),
                "type": "danger" if any(errors.values()) else "success",
                "className": "text-prewrap",
                "sticky": False,
            },
        }

    # ------------------------------------------------------------------ built-in exchange type
    def _mfg_handle_heartbeat(self, message, data):
        """Handler of plant.heartbeat.v1: keep the system's own status on its backend."""
        backend = message.backend_id
        backend.sudo().write(
            {
                "remote_status": data["status"],
                "remote_status_at": fields.Datetime.now(),
                "remote_status_detail": (data.get("detail") or "")[:250] or False,
            }
        )
        return backend


# Keep MAPPING_KINDS importable from here for handlers that build their own lookups.
__all__ = ["MfgBackend", "MAPPING_KINDS"]
