import json

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..pipeline import claim as claims
from ..pipeline import process, receive
from ..pipeline.claim import drain_partitions
from ..pipeline.states import ERROR_CLASSES, PENDING_STATES, STATES


class MfgMessage(models.Model):
    """One message exchanged with a plant system, inbound or outbound: the log and the queue."""

    _name = "mfg.message"
    _description = "Integration Message"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "name"
    _mail_post_access = "read"

    name = fields.Char(compute="_compute_name", store=True)
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")], required=True, default="inbound", index=True
    )
    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="restrict", index=True)
    exchange_type_id = fields.Many2one(
        "mfg.exchange.type", string="Exchange type", required=True, ondelete="restrict", index=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    # Not tracked: the pipeline changes states by the thousand; manual actions (Retry, Replay,
    # Discard) write their own chatter line naming the user.
    state = fields.Selection(STATES, required=True, default="received", index=True)
    payload = fields.Text(help="The payload exactly as received or sent.")
    payload_pretty = fields.Text(string="Payload (formatted)", compute="_compute_payload_pretty")
    headers = fields.Text(help="Transport headers (JSON).")
    transport = fields.Char(help="How the message came or goes: rest, mqtt, file, http, ui...")
    external_id = fields.Char(string="Message id", index=True, help="The sender's id: idempotency key.")
    correlation_id = fields.Char(index=True)
    error_signature = fields.Char(
        index=True, readonly=True, help="Failures with the same cause share it (see Integration > Incidents)."
    )
    ordering_key = fields.Char(index=True)
    attempts = fields.Integer(default=0, readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    error_class = fields.Selection(ERROR_CLASSES, readonly=True)
    error_message = fields.Text(string="Error", readonly=True)
    error_path = fields.Char(string="Error field", readonly=True, help="JSON pointer of the faulty value.")
    error_detail = fields.Text(string="Technical detail", readonly=True, groups="base.group_system")
    quantity_rounding = fields.Text(
        string="Rounded quantities",
        readonly=True,
        copy=False,
        help="Reported quantities booked rounded, within the backend's quantity rounding tolerance.",
    )
    received_at = fields.Datetime(default=fields.Datetime.now, required=True, index=True, readonly=True)
    processed_at = fields.Datetime(readonly=True)
    duration_ms = fields.Integer(string="Duration (ms)", readonly=True)
    job_uuid = fields.Char(string="Last job", readonly=True)
    claim_token = fields.Char(readonly=True, copy=False)
    claimed_at = fields.Datetime(readonly=True, copy=False)
    claim_lock = fields.Integer(
        readonly=True, copy=False, help="Advisory lock held by the drain processing the message."
    )
    claim_status = fields.Selection(
        [("live", "Being processed"), ("orphaned", "Stuck: its drain is gone")],
        compute="_compute_claim_status",
        search="_search_claim_status",
        help="For messages in Processing: whether the drain that claimed them is still running.",
    )
    record_ids = fields.One2many("mfg.message.record", "message_id", string="Related records")
    record_count = fields.Integer(compute="_compute_record_count")
    replay_of_id = fields.Many2one("mfg.message", string="Replay of", readonly=True, index="btree_not_null")
    replay_ids = fields.One2many("mfg.message", "replay_of_id", string="Replays")
    discard_reason = fields.Text(readonly=True)
    response = fields.Text(readonly=True, help="Outbound: what the receiving system answered.")
    age_minutes = fields.Integer(string="Age (min)", compute="_compute_age")
    is_late = fields.Boolean(compute="_compute_age", search="_search_is_late")

    def init(self):
        # Idempotent consumer: one row per (backend, type, direction, sender's id).
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS mfg_message_external_uniq
                ON mfg_message (backend_id, exchange_type_id, direction, external_id)
             WHERE external_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS mfg_message_claim_idx
                ON mfg_message (backend_id, direction, id)
             WHERE state IN ('received', 'queued', 'retrying');
            CREATE SEQUENCE IF NOT EXISTS mfg_message_claim_lock_seq MAXVALUE 2147483647 CYCLE;
            CREATE INDEX IF NOT EXISTS mfg_message_processing_idx
                ON mfg_message (backend_id, direction, id) WHERE state = 'processing';
            CREATE INDEX IF NOT EXISTS mfg_message_key_idx
                ON mfg_message (backend_id, ordering_key, id)
             WHERE ordering_key IS NOT NULL
               AND state IN ('received', 'queued', 'processing', 'retrying', 'failed', 'dead');
            """
        )

    # ------------------------------------------------------------------ computes
    @api.depends("direction", "exchange_type_id.contract")
    def _compute_name(self):
        for rec in self:
            arrow = "IN" if rec.direction == "inbound" else "OUT"
            rec.name = f"{arrow} {rec.exchange_type_id.contract or ''} #{rec.id or ''}".strip()

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for rec in self:
            try:
                rec.payload_pretty = json.dumps(json.loads(rec.payload), indent=2, ensure_ascii=False)
            except (TypeError, ValueError):
                rec.payload_pretty = rec.payload

    def _compute_record_count(self):
        for rec in self:
            rec.record_count = len(rec.record_ids)

    def _orphaned_ids(self, ids):
        """Those of ``ids`` that are 'processing' with no live drain (see claims.orphaned_claim_sql)."""
        return claims.orphaned_ids(self.env.cr, ids)

    def _compute_claim_status(self):
        processing = self.filtered(lambda m: m.state == "processing" and m.id)
        orphaned = self._orphaned_ids(processing.ids)
        for rec in self:
            if rec in processing:
                rec.claim_status = "orphaned" if rec.id in orphaned else "live"
            else:
                rec.claim_status = False

    def _search_claim_status(self, operator, value):
        if operator != "=" or value not in ("live", "orphaned"):
            raise UserError(self.env._("Unsupported search on the claim status."))
        orphaned = sorted(claims.orphaned_ids(self.env.cr))
        if value == "orphaned":
            return [("id", "in", orphaned)]
        return [("state", "=", "processing"), ("id", "not in", orphaned)]

    def _compute_age(self):
        now = fields.Datetime.now()
        for rec in self:
            rec.age_minutes = int((now - rec.received_at).total_seconds() // 60) if rec.received_at else 0
            rec.is_late = (
                rec.state in PENDING_STATES
                and rec.exchange_type_id.sla_minutes > 0
                and rec.age_minutes >= rec.exchange_type_id.sla_minutes
            )

    def _search_is_late(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Unsupported search on 'late'."))
        self.env.cr.execute(
            """
            SELECT m.id FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
             WHERE m.state IN %s AND t.sla_minutes > 0
               AND m.received_at <= (now() AT TIME ZONE 'UTC') - make_interval(mins => t.sla_minutes)
            """,
            (PENDING_STATES,),
        )
        ids = [r[0] for r in self.env.cr.fetchall()]
        positive = (operator == "=") == value
        return [("id", "in" if positive else "not in", ids)]

    # ------------------------------------------------------------------ receive (pipeline/receive.py)
    @api.model
    def _mfg_receive(
        self,
        backend,
        exchange_type,
        items,
        transport="api",
        validate=False,
        check_flow=True,
        reject_reason=None,
    ):
        """Store inbound messages (step 1 of the pipeline). The caller commits, then acknowledges.

        ``items``: iterable of dicts with ``payload`` (str or bytes, required) and optional
        ``external_id``, ``correlation_id``, ``headers`` (dict), ``reject_reason`` (stored as
        ``rejected`` with this reason: what the transport already knows is wrong, e.g. a file
        line that cannot be read).
        One multi-row ``INSERT ... ON CONFLICT DO NOTHING``: a message whose external id is
        already stored for this backend and type is recognised and not stored twice.
        With ``validate``, the JSON Schema is checked now (REST answers 422 at once);
        otherwise the drain job checks it. Payloads that are not JSON objects are stored as
        ``rejected`` with the reason, never lost.

        Returns a list, in the order of ``items``, of dicts: ``id``, ``duplicate`` (bool),
        ``state``, ``error`` (text or None), ``errors`` (schema errors).
        """
        return receive.receive(
            self,
            backend,
            exchange_type,
            items,
            transport=transport,
            validate=validate,
            check_flow=check_flow,
            reject_reason=reject_reason,
        )

    # ------------------------------------------------------------------ process (pipeline/process.py)
    def _mfg_process(self, isolated=True):
        """Run one claimed message through the pipeline and record its outcome.

        Called by the drain job inside its transaction. ``isolated``: the work happens in a
        savepoint of its own, so a failure undoes the message's own changes and nothing else,
        and is recorded. Otherwise the caller holds the savepoint (a run of messages, see
        ``mfg.backend._mfg_process_claimed``) and an error is raised to it, nothing recorded.
        """
        return process.process(self, isolated=isolated)

    def _mfg_process_batch(self):
        """Apply these inbound messages (one exchange type, distinct ordering keys) with the
        type's batch handler in one call and record them done. Raises on any error, nothing
        recorded: the drain (which holds the savepoint) then applies them one by one."""
        return process.process_batch(self)

    def _mfg_run_step(self):
        """Steps 2-4 (inbound: validate, map, apply) or the send (outbound); returns the result."""
        return process.run_step(self)

    def _mfg_payload(self):
        """Step 2: the payload parsed and checked against the contract."""
        return process.payload(self)

    def _mfg_apply(self, data):
        """Steps 3-4: the exchange type's handler maps codes and updates Odoo."""
        return process.apply(self, data)

    def _mfg_send(self):
        """Outbound: hand the message to its transport (mfg.transport.<code>)."""
        return process.send(self)

    def _mfg_wire_body(self):
        """Outbound: ``(bytes, content type)`` to send: the payload, or its encoding in the
        flow's wire format (kept in ``wire_payload``)."""
        return process.wire_body(self)

    @api.model
    def _mfg_classify(self, exc):
        """(error_class, transient) for an exception raised while processing."""
        return process.classify(exc)

    def _mfg_record_failure(self, exc, attempts, start):
        """Record a failed attempt (``start``: its ``time.monotonic()``)."""
        process.record_failure(self, exc, attempts, start)

    def _mfg_write_outcome(self, vals):
        """Record a processing outcome with one UPDATE (no ORM write, no tracking, no flush)."""
        process.write_outcome(self, vals)

    @api.model
    def _mfg_write_batch_outcomes(self, batch):
        """Write the outcomes and record links buffered by ``_mfg_process`` (see the drain)."""
        process.write_batch_outcomes(self, batch)

    def _mfg_link(self, records):
        """Remember the Odoo records a message created or changed (shown on the message)."""
        self.env["mfg.message.record"]._mfg_link(self, records)

    # ------------------------------------------------------------------ claim (pipeline/claim.py)
    @api.model
    def _mfg_claim(
        self,
        backend,
        direction,
        type_ids,
        limit,
        lease_seconds=None,
        job_uuid=None,
        partition=0,
        partitions=1,
        claim_lock=None,
    ):
        """Claim up to ``limit`` due messages for one drain (see ``pipeline.claim.claim``).
        Returns the claimed messages (ordered by id) and the claim token."""
        self.env.flush_all()  # pending ORM writes (a Retry pressed in this transaction) count
        ids, token = claims.claim(
            self.env.cr,
            backend.id,
            direction,
            type_ids,
            limit,
            lease=lease_seconds,
            job_uuid=job_uuid,
            partition=partition,
            partitions=partitions,
            claim_lock=claim_lock,
        )
        self.invalidate_model(["state", "claim_token", "claimed_at", "job_uuid", "claim_lock"])
        return self.browse(ids), token

    @api.model
    def _mfg_claimable_count(self, backend, direction, type_ids, partition=0, partitions=1):
        """1 when a drain would find something to claim now (see ``pipeline.claim.claimable``)."""
        return int(claims.claimable(self.env.cr, backend.id, direction, type_ids, partition, partitions))

    @api.model
    def _mfg_next_retry(self, backend, direction, type_ids, partition=0, partitions=1):
        """The retrying message of this partition due next, if not due yet (else empty)."""
        first = claims.next_retry(self.env.cr, backend.id, direction, type_ids, partition, partitions)
        return self.browse(first and [first])

    def _mfg_partition(self, partitions=None):
        """The drain partition of this message (see claims.PARTITION_SQL)."""
        self.ensure_one()
        return claims.partition_of(self.env.cr, self.id, self.ordering_key, partitions or drain_partitions())

    @api.model
    def _mfg_release(self, ids, token):
        """Give claimed but unprocessed messages back (state queued) for a later drain."""
        count = claims.release(self.env.cr, ids, token)
        self.invalidate_model(["state", "claim_token", "claimed_at"])
        return count

    def _mfg_held_back(self, token):
        """Ids of these claimed messages (one claim, token ``token``) that must wait for an
        earlier message of their ordering key (see ``pipeline.claim.held_back``)."""
        return claims.held_back(self.env.cr, self.filtered("ordering_key").ids, token)
