import base64
import json
import logging
import time
import traceback
from datetime import timedelta

import psycopg2
import psycopg2.errorcodes
from psycopg2.extras import execute_values

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.exceptions import ValidationError as OdooValidationError

from ..components import contract, signature
from ..components.retry_policy import retry_delay
from ..exceptions import MfgError, MfgTransientError, MfgValidationError
from ..pipeline import claim as claims
from ..pipeline import outcome
from ..pipeline.claim import (  # noqa: F401 - importable from here, as before
    CLAIM_LOCK_CLASS,
    PARTITION_SQL,
    claim_lease_seconds,
    drain_partitions,
    live_claim_locks_sql,
    orphaned_claim_sql,
)
from ..pipeline.receive import as_key as _as_key
from ..pipeline.receive import sender_key_problem as _sender_key_problem
from ..pipeline.states import (  # noqa: F401 - importable from here, as before
    BLOCKING_STATES,
    CLAIMABLE_STATES,
    ERROR_CLASSES,
    PENDING_STATES,
    STATES,
    TRANSIENT_PGCODES,
)

_logger = logging.getLogger(__name__)


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
        """Those of ``ids`` that are 'processing' with no live drain (see orphaned_claim_sql)."""
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

    # ------------------------------------------------------------------ receive
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
        backend.ensure_one()
        exchange_type.ensure_one()
        if check_flow:
            backend._mfg_check_flow(exchange_type, "inbound")
        now = fields.Datetime.now()
        rows, results = [], []
        for item in items:
            raw = item.get("payload")
            if item.get("raw_fallback"):
                text = "base64:" + base64.b64encode(bytes(raw or b"")).decode()
            elif isinstance(raw, bytes | bytearray):
                text = bytes(raw).decode("utf-8", errors="replace")
            else:
                text = raw if isinstance(raw, str) else json.dumps(raw)
            # PostgreSQL text cannot hold NUL characters; such a payload is no JSON anyway.
            text = text.replace("\x00", "\ufffd")
            state, error, path, errors, error_class = "received", None, None, [], None
            data = None
            given_ext, given_corr = item.get("external_id"), item.get("correlation_id")
            key_problem = _sender_key_problem(given_ext, "message id") or _sender_key_problem(
                given_corr, "correlation id"
            )
            if key_problem:
                # Never let it reach the unique index (a long id overflows it) or a key column.
                given_ext = given_corr = None
            try:
                data = contract.parse_json(raw if raw is not None else "")
                if reject_reason or item.get("reject_reason") or key_problem:
                    raise MfgValidationError(item.get("reject_reason") or reject_reason or key_problem)
                if validate:
                    contract.validate(exchange_type.json_schema, data)
                    state = "queued"
            except MfgValidationError as exc:
                state, error, path, errors, error_class = (
                    "rejected",
                    exc.message,
                    exc.path,
                    exc.errors,
                    "validation",
                )
            external_id = given_ext or (
                data is not None
                and _as_key(contract.resolve_pointer(data, exchange_type.external_id_pointer))
            )
            correlation_id = given_corr or (
                data is not None
                and _as_key(contract.resolve_pointer(data, exchange_type.correlation_id_pointer))
            )
            ordering_key = data is not None and _as_key(
                contract.composite_key(data, exchange_type.ordering_key_pointer)
            )
            if key_problem:
                external_id = correlation_id = None  # the sender may send it again, fixed
            headers = item.get("headers")
            rows.append(
                (
                    self.env.uid,
                    now,
                    self.env.uid,
                    now,
                    "inbound",
                    backend.id,
                    exchange_type.id,
                    backend.company_id.id,
                    state,
                    text,
                    json.dumps(headers) if headers else None,
                    transport,
                    external_id or None,
                    correlation_id or None,
                    ordering_key or None,
                    0,
                    error_class,
                    error,
                    path,
                    item.get("received_at") or now,
                    f"IN {exchange_type.contract}",
                )
            )
            results.append(
                {"external_id": external_id or None, "state": state, "error": error, "errors": errors}
            )
        if not rows:
            return []
        inserted = execute_values(
            self.env.cr,
            """
            INSERT INTO mfg_message (create_uid, create_date, write_uid, write_date, direction, backend_id,
                exchange_type_id, company_id, state, payload, headers, transport, external_id,
                correlation_id, ordering_key, attempts, error_class, error_message, error_path,
                received_at, name)
            VALUES %s
            ON CONFLICT (backend_id, exchange_type_id, direction, external_id)
               WHERE external_id IS NOT NULL DO NOTHING
            RETURNING id, external_id
            """,
            rows,
            fetch=True,
        )
        # RETURNING gives no order guarantee: match rows back by external id, then by position.
        by_ext = {}
        anonymous = []
        for row_id, ext in inserted:
            if ext is None:
                anonymous.append(row_id)
            else:
                by_ext[ext] = row_id
        anonymous.sort()
        missing = [r["external_id"] for r in results if r["external_id"] and r["external_id"] not in by_ext]
        existing = {}
        if missing:
            self.env.cr.execute(
                """SELECT external_id, id, state FROM mfg_message
                    WHERE backend_id = %s AND exchange_type_id = %s AND direction = 'inbound'
                      AND external_id IN %s""",
                (backend.id, exchange_type.id, tuple(missing)),
            )
            existing = {ext: (mid, st) for ext, mid, st in self.env.cr.fetchall()}
        seen = set()
        anon_iter = iter(anonymous)
        for res in results:
            ext = res["external_id"]
            if ext is None:
                res.update(id=next(anon_iter), duplicate=False)
            elif ext in by_ext and ext not in seen:
                res.update(id=by_ext[ext], duplicate=False)
                seen.add(ext)
            else:
                mid, st = existing.get(ext) or (by_ext.get(ext), res["state"])
                res.update(id=mid, duplicate=True, state=st, error=None, errors=[])
        # Name with the id, as the compute would (raw SQL bypasses it).
        new_ids = list(by_ext.values()) + anonymous
        if new_ids:
            self.env.cr.execute(
                "UPDATE mfg_message SET name = name || ' #' || id WHERE id IN %s", (tuple(new_ids),)
            )
        backend._mfg_touch_contact()
        if any(not r["duplicate"] and r["state"] != "rejected" for r in results):
            backend._mfg_enqueue_drain("inbound", exchange_type.channel, sync_class=exchange_type.sync_class)
        return results

    @api.model
    def _mfg_receive_mqtt(self, batch):
        """Store one batch of MQTT messages (the listener commits, then acknowledges).

        ``batch``: objects with ``backend_id``, ``topic``, ``payload`` (bytes) and
        ``user_props`` (MQTT v5 user properties). The topic's last level names the exchange
        type; a message whose type is unknown or not enabled on the backend is still stored,
        as ``rejected`` under the ``mfg.unroutable`` type, with its raw bytes.
        """
        groups = {}
        for item in batch:
            groups.setdefault((item.backend_id, item.topic.rsplit("/", 1)[-1]), []).append(item)
        Backend = self.env["mfg.backend"].sudo().with_context(active_test=False)
        Type = self.env["mfg.exchange.type"].sudo()
        unroutable = self.env.ref("mfg_integration_base.exchange_type_unroutable").sudo()
        stored = 0
        bare = [it for it in batch if getattr(it, "bare", False)]
        for it in bare:
            groups[(it.backend_id, it.topic.rsplit("/", 1)[-1])].remove(it)
        for it in bare:
            # The listener could not store it as received: keep its bytes, say why, route nothing.
            self._mfg_receive(
                Backend.browse(it.backend_id),
                unroutable,
                [
                    {
                        "payload": it.payload,
                        "raw_fallback": True,
                        "headers": {"topic": it.topic[:1000]},
                        "reject_reason": self.env._(
                            "This message could not be stored as received (%(error)s); it is kept with its "
                            "raw bytes (base64) only, without its MQTT properties.",
                            error=it.store_error or "?",
                        ),
                    }
                ],
                transport="mqtt",
                check_flow=False,
            )
            stored += 1
        for (backend_id, type_code), items in groups.items():
            if not items:
                continue
            backend = Backend.browse(backend_id)
            etype = Type._find(type_code)
            rows = [
                {
                    "payload": it.payload,
                    "external_id": it.user_props.get("message_id"),
                    "correlation_id": it.user_props.get("correlation_id"),
                    "headers": {"topic": it.topic, **it.user_props},
                    "raw_fallback": it.raw_fallback,
                }
                for it in items
            ]
            if etype and etype.direction == "inbound" and backend._mfg_flow(etype):
                self._mfg_receive(backend, etype, rows, transport="mqtt")
            else:
                reason = self.env._(
                    "Topic %(topic)s names no inbound exchange type enabled on backend %(backend)s "
                    "(last topic level %(code)r).",
                    topic=items[0].topic,
                    backend=backend.code,
                    code=type_code,
                )
                for row in rows:
                    row["external_id"] = None  # never let garbage take a real message's id
                self._mfg_receive(
                    backend, unroutable, rows, transport="mqtt", check_flow=False, reject_reason=reason
                )
            stored += len(items)
        return stored

    # ------------------------------------------------------------------ process (steps 2-5)
    def _mfg_payload(self):
        """Step 2: the payload parsed and checked against the contract."""
        self.ensure_one()
        data = contract.parse_json(self.payload or "")
        contract.validate(self.exchange_type_id.json_schema, data)
        return data

    def _mfg_apply(self, data):
        """Steps 3-4: the exchange type's handler maps codes and updates Odoo."""
        self.ensure_one()
        # Only a registered handler (mfg.handler.mixin, _mfg_handle_*) is ever called.
        handler = self.exchange_type_id._mfg_handler(mfg_message_id=self.id)
        return handler(self, data)

    def _mfg_send(self):
        """Outbound: hand the message to its transport (mfg.transport.<code>)."""
        self.ensure_one()
        transport = self.transport or "http"
        if f"mfg.transport.{transport}" not in self.env:
            # Outbound replays made before 18.0.1.x carried 'replay' (where the message came
            # from) instead of where it goes: send them by the flow's transport.
            flow = self.backend_id._mfg_flow(self.exchange_type_id)
            transport = flow.transport or transport
        model = f"mfg.transport.{transport}"
        if model not in self.env:
            raise MfgError(self.env._("Unknown transport %(t)r for message %(m)s.", t=transport, m=self.name))
        return self.env[model]._mfg_send(self)

    def _mfg_process(self, isolated=True):
        """Run one claimed message through the pipeline and record its outcome.

        Called by the drain job inside its transaction. ``isolated``: the work happens in a
        savepoint of its own, so a failure undoes the message's own changes and nothing else,
        and is recorded. Otherwise the caller holds the savepoint (a run of messages, see
        ``mfg.backend._mfg_process_claimed``) and an error is raised to it, nothing recorded.
        """
        self.ensure_one()
        start = time.monotonic()
        attempts = self.attempts + 1
        try:
            if isolated:
                with self.env.cr.savepoint():
                    result = self._mfg_run_step()
            else:
                result = self._mfg_run_step()
        except Exception as exc:
            if not isolated:
                raise
            try:
                with self.env.cr.savepoint(flush=False):
                    self._mfg_record_failure(exc, attempts, start)
            except Exception:
                # Recording the error must never crash the drain (the batch would be released
                # and claimed again, forever): keep a plain failure instead.
                _logger.exception("mfg message %s: could not record its failure", self.id)
                self._mfg_write_outcome(
                    {
                        "state": "failed",
                        "attempts": attempts,
                        "processed_at": fields.Datetime.now(),
                        "error_class": "internal",
                        "error_message": self.env._(
                            "Processing failed (%(type)s) and the error could not be recorded; see the server log.",
                            type=type(exc).__name__,
                        ),
                        "next_attempt_at": None,
                        "claim_token": None,
                    }
                )
            return False
        vals = {
            "state": "done",
            "attempts": attempts,
            "processed_at": fields.Datetime.now(),
            "duration_ms": int((time.monotonic() - start) * 1000),
            "next_attempt_at": None,
            "claim_token": None,
            "error_class": None,
            "error_message": None,
            "error_path": None,
        }
        if self.direction == "outbound" and isinstance(result, str):
            vals["response"] = result[:10000]
        batch = self.env.cr.cache.get("mfg_outcomes")
        if batch is not None:
            # Inside a drain batch: written with the batch's other outcomes, in one statement each
            # (same transaction, so nothing changes for a reader; 2 round trips less per message).
            batch["done"].append((self.id, vals))
            if result is not None and "response" not in vals:
                batch["links"].extend(self._mfg_link_rows(result))
            return True
        if result is not None and "response" not in vals:
            self._mfg_link(result)
        self._mfg_write_outcome(vals)
        return True

    def _mfg_run_step(self):
        """Steps 2-4 (inbound: validate, map, apply) or the send (outbound); returns the result."""
        if self.direction == "inbound":
            return self._mfg_apply(self._mfg_payload())
        return self._mfg_send()

    @api.model
    def _mfg_write_batch_outcomes(self, batch):
        """Write the outcomes and record links buffered by ``_mfg_process`` (see the drain)."""
        outcome.write_done(self.env.cr, batch["done"], self.env.uid)
        outcome.insert_links(self.env.cr, batch["links"])
        ids = [mid for mid, _vals in batch["done"]] + [row[0] for row in batch["links"]]
        if ids:
            self.browse(ids).invalidate_recordset()

    def _mfg_write_outcome(self, vals):
        """Record a processing outcome with one UPDATE (no ORM write, no tracking, no flush):
        the drain does this for every message."""
        self.ensure_one()
        outcome.write(self.env.cr, self.id, vals, self.env.uid)
        self.invalidate_recordset(sorted(vals) + ["write_date", "write_uid"])

    @api.model
    def _mfg_classify(self, exc):
        """(error_class, transient) for an exception raised while processing."""
        if isinstance(exc, MfgError):
            return exc.error_class, isinstance(exc, MfgTransientError)
        if isinstance(exc, psycopg2.Error) and getattr(exc, "pgcode", None) in TRANSIENT_PGCODES:
            return "transient", True
        if isinstance(exc, psycopg2.OperationalError):
            return "transient", True
        if isinstance(exc, UserError | OdooValidationError | AccessError):
            return "business", False
        return "internal", False

    def _mfg_record_failure(self, exc, attempts, start):
        error_class, transient = self._mfg_classify(exc)
        text = getattr(exc, "message", None) or (exc.args[0] if getattr(exc, "args", None) else repr(exc))
        if error_class == "internal":
            text = self.env._("Unexpected error (%(type)s): %(text)s", type=type(exc).__name__, text=text)
        vals = {
            "attempts": attempts,
            "processed_at": fields.Datetime.now(),
            "duration_ms": int((time.monotonic() - start) * 1000),
            "error_class": error_class,
            "error_message": str(text)[:10000],
            "error_path": getattr(exc, "path", None) or None,
            "error_detail": "".join(traceback.format_exception(exc))[-20000:],
            "error_signature": signature.error_signature(
                error_class, str(text), getattr(exc, "kind", None), getattr(exc, "code", None)
            ),
            "claim_token": None,
        }
        etype = self.exchange_type_id
        if error_class == "validation":
            vals.update(state="rejected", next_attempt_at=None)
        elif transient and attempts < etype.max_attempts:
            delay = retry_delay(
                attempts, etype.retry_delay, etype.retry_backoff, etype.retry_jitter, etype.retry_max_delay
            )
            if isinstance(exc, psycopg2.Error):
                # A concurrent update of the same business record: try again in a moment.
                delay = min(delay, retry_delay(attempts, 1, 2, 0.5, 30))
            if getattr(exc, "retry_after", None):
                # The other side said when to come back (HTTP Retry-After, bounded by the transport).
                delay = exc.retry_after
            next_at = fields.Datetime.now() + timedelta(seconds=delay)
            vals.update(state="retrying", next_attempt_at=next_at)
            self.backend_id._mfg_enqueue_drain(
                self.direction, etype.channel, eta=next_at, sync_class="all", partition=self._mfg_partition()
            )
        elif transient:
            vals.update(state="dead", next_attempt_at=None)
            vals["error_message"] = self.env._(
                "Gave up after %(n)s attempts. Last error: %(text)s", n=attempts, text=vals["error_message"]
            )
        else:
            vals.update(state="failed", next_attempt_at=None)
        _logger.info(
            "mfg message %s (%s) %s after attempt %s: %s",
            self.id,
            etype.contract,
            vals["state"],
            attempts,
            error_class,
        )
        self._mfg_write_outcome(vals)

    def _mfg_link(self, records):
        """Remember the Odoo records a message created or changed (shown on the message)."""
        self.ensure_one()
        rows = self._mfg_link_rows(records)
        if rows:
            self._mfg_insert_links(rows)
            self.invalidate_recordset(["record_ids"])

    def _mfg_link_rows(self, records):
        self.ensure_one()
        if isinstance(records, models.BaseModel):
            records = [records]
        rows = []
        known = set()
        for recs in records or []:
            if not isinstance(recs, models.BaseModel):
                continue
            for rec in recs:
                if (rec._name, rec.id) not in known and rec.id:
                    known.add((rec._name, rec.id))
                    rows.append((self.id, rec._name, rec.id, self.env.uid, self.env.uid))
        return rows

    @api.model
    def _mfg_insert_links(self, rows):
        outcome.insert_links(self.env.cr, rows)

    # ------------------------------------------------------------------ claim
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
        """The drain partition of this message (see PARTITION_SQL)."""
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

    # ------------------------------------------------------------------ manual actions
    def _mfg_check_manager(self, action):
        if not self.env.user.has_group("mfg_integration_base.group_mfg_manager"):
            raise AccessError(self.env._("Only Integration Managers may %(action)s messages.", action=action))

    def action_retry(self):
        """Try again now (after a fix): failed, dead, retrying messages; attempts start over."""
        retryable = self.filtered(lambda m: m.state in ("failed", "dead", "retrying"))
        if not retryable:
            raise UserError(
                self.env._(
                    "Only failed, dead or retrying messages can be retried; use Replay for the others."
                )
            )
        user = self.env.user.name
        for msg in retryable:
            previous = dict(self._fields["state"].selection)[msg.state]
            previous_attempts = msg.attempts
            msg.sudo().write({"state": "queued", "next_attempt_at": False, "attempts": 0})
            msg.message_post(
                body=self.env._(
                    "Retry requested by %(user)s (was %(state)s after %(n)s attempt(s)).",
                    user=user,
                    state=previous,
                    n=previous_attempts,
                )
            )
        retryable._mfg_wake_drains()
        return True

    def action_replay(self):
        """Process the same payload again as a new message (done, rejected or discarded ones).

        A failed, retrying or dead message still holds its place in its key's order: Retry it
        (or Discard it first); a replay would come after the messages it holds back.
        """
        self._mfg_check_manager(self.env._("replay"))
        open_msgs = self.filtered(lambda m: m.state not in ("done", "rejected", "discarded"))
        if open_msgs:
            raise UserError(
                self.env._(
                    "Message %(name)s is %(state)s: use Retry to process it again in its place, or Discard "
                    "it first. Replay is for done, rejected and discarded messages.",
                    name=open_msgs[0].display_name,
                    state=dict(self._fields["state"].selection)[open_msgs[0].state],
                )
            )
        new = self.browse()
        for msg in self:
            copy = msg.sudo().copy(
                {
                    "state": "queued",
                    "external_id": False,
                    "replay_of_id": msg.id,
                    "received_at": fields.Datetime.now(),
                    # Inbound: where it came from (a replay); outbound: where it goes (the same
                    # transport as the original — replay_of_id says it is a replay).
                    "transport": "replay" if msg.direction == "inbound" else msg.transport,
                    # A new message: none of the original's outcome is carried over.
                    "attempts": 0,
                    "next_attempt_at": False,
                    "processed_at": False,
                    "duration_ms": 0,
                    "error_class": False,
                    "error_message": False,
                    "error_path": False,
                    "error_detail": False,
                    "discard_reason": False,
                    "response": False,
                    "job_uuid": False,
                }
            )
            new |= copy
            msg.message_post(
                body=self.env._(
                    "Replayed by %(user)s as %(new)s.", user=self.env.user.name, new=copy.display_name
                )
            )
            copy.message_post(
                body=self.env._(
                    "Replay of %(old)s requested by %(user)s.", old=msg.display_name, user=self.env.user.name
                )
            )
            msg.backend_id._mfg_enqueue_drain(msg.direction, msg.exchange_type_id.channel, sync_class="all")
        if len(new) == 1:
            return {
                "type": "ir.actions.act_window",
                "res_model": "mfg.message",
                "res_id": new.id,
                "view_mode": "form",
            }
        return True

    def action_discard(self, reason):
        """Give up on messages, with a reason (kept and written to the chatter)."""
        self._mfg_check_manager(self.env._("discard"))
        if not (reason or "").strip():
            raise UserError(self.env._("Say why the message is discarded."))
        done = self.filtered(lambda m: m.state == "done")
        if done:
            raise UserError(
                self.env._("Message %(name)s is done: it cannot be discarded.", name=done[0].display_name)
            )
        for msg in self:
            msg.sudo().write({"state": "discarded", "discard_reason": reason, "next_attempt_at": False})
            msg.message_post(
                body=self.env._("Discarded by %(user)s: %(reason)s", user=self.env.user.name, reason=reason)
            )
        # A discarded message no longer holds its ordering key: the key's later messages go now.
        self._mfg_wake_drains()
        return True

    def _mfg_wake_drains(self):
        """Start drains (after the commit) for the backends, directions and channels of these
        messages: a manual action freed or queued work that must not wait for a cron."""
        for (backend, direction), msgs in self.grouped(lambda m: (m.backend_id, m.direction)).items():
            for channel in set(msgs.exchange_type_id.mapped("channel")):
                backend._mfg_enqueue_drain(direction, channel, sync_class="all")

    def action_release_claim(self):
        """Give a stuck 'processing' message back to the queue (its drain is gone).

        The drains take such messages again by themselves at once; this makes it explicit and
        immediate. A message whose drain is alive is refused: releasing it could apply it twice.
        """
        self._mfg_check_manager(self.env._("release"))
        processing = self.filtered(lambda m: m.state == "processing")
        if not processing:
            raise UserError(self.env._("Only messages in Processing can be released."))
        self.env.flush_all()
        orphaned = self._orphaned_ids(processing.ids)
        live = processing.filtered(lambda m: m.id not in orphaned)
        if live:
            raise UserError(
                self.env._(
                    "Message %(name)s is being processed right now by a running drain (job %(job)s, since "
                    "%(since)s UTC): releasing it could apply it twice. If that job hangs, stop its worker; the "
                    "message is then released at once.",
                    name=live[0].display_name,
                    job=live[0].job_uuid or "?",
                    since=live[0].claimed_at,
                )
            )
        for msg in processing:
            msg.sudo().write({"state": "queued", "claim_token": False, "claimed_at": False})
            msg.message_post(
                body=self.env._(
                    "Released by %(user)s: its drain (job %(job)s) was gone.",
                    user=self.env.user.name,
                    job=msg.job_uuid or "?",
                )
            )
        processing._mfg_wake_drains()
        return True

    def action_open_discard_wizard(self):
        self._mfg_check_manager(self.env._("discard"))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Discard messages"),
            "res_model": "mfg.message.discard.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": "mfg.message", "active_ids": self.ids},
        }

    def action_view_records(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Related records"),
            "res_model": "mfg.message.record",
            "view_mode": "list",
            "domain": [("message_id", "=", self.id)],
        }
