import json
import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..components import settings
from ..exceptions import MfgPermanentError
from ..pipeline import claim as claims
from ..pipeline import tx
from .mfg_code_mapping import MAPPING_KINDS
from .mfg_message import (
    PENDING_STATES,
    claim_lease_seconds,
    drain_partitions,
    orphaned_claim_sql,
)

_logger = logging.getLogger(__name__)

DRAIN_BATCH = 100
RUN_MAX = 32  # inbound messages applied in one savepoint (see _mfg_process_claimed)
STALL_SECONDS = 60  # pending work with nothing processed for this long: health 'stalled'
SYSTEM_KINDS = [
    ("mes", "MES"),
    ("quality", "Quality / LIMS"),
    ("scada", "SCADA gateway"),
    ("wms", "WMS"),
    ("legacy", "Legacy (flat files)"),
    ("other", "Other"),
]


class MfgBackend(models.Model):
    """One plant system Odoo talks to (one per plant and system): connection, contracts, health."""

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
    # Connection (HTTP). Secrets are visible to managers only and never logged.
    http_url = fields.Char(string="HTTP URL", tracking=True, help="Default URL of outbound HTTP messages.")
    http_timeout = fields.Integer(string="HTTP timeout (s)", default=10, tracking=True)
    http_token = fields.Char(
        string="HTTP bearer token", groups="mfg_integration_base.group_mfg_manager", copy=False
    )
    hmac_secret = fields.Char(
        string="HMAC secret",
        groups="mfg_integration_base.group_mfg_manager",
        copy=False,
        help="Shared secret of the HMAC-SHA256 signature of outbound HTTP messages (Standard Webhooks "
        "webhook-signature; whsec_... as the receiver gives it, or Generate secret).",
    )
    # Connection (MQTT). See components/mqtt_client.py for the topic scheme.
    mqtt_enabled = fields.Boolean(
        string="MQTT", tracking=True, help="Serve this backend with the MQTT listener."
    )
    mqtt_host = fields.Char(string="Broker host", default="127.0.0.1", tracking=True)
    mqtt_port = fields.Integer(string="Broker port", default=1883, tracking=True)
    mqtt_protocol = fields.Selection(
        [("v5", "MQTT 5"), ("v311", "MQTT 3.1.1")],
        string="Protocol",
        default="v5",
        required=True,
        tracking=True,
    )
    mqtt_username = fields.Char(string="Broker user", tracking=True)
    mqtt_password = fields.Char(
        string="Broker password", groups="mfg_integration_base.group_mfg_manager", copy=False
    )
    mqtt_tls = fields.Boolean(string="TLS", tracking=True)  # CA, certificate, key: mfg_backend_mqtt_tls.py
    mqtt_topic_prefix = fields.Char(string="Topic prefix", default="mfg", required=True, tracking=True)
    mqtt_client_id = fields.Char(
        string="Client id",
        tracking=True,
        help="Fixed client id of the persistent session (the listener appends its own name). "
        "Default: odoo-<backend code>.",
    )
    mqtt_shared_group = fields.Char(
        string="Shared subscription group",
        tracking=True,
        help="MQTT 5: listeners on several hosts join $share/<group>/... and split the messages.",
    )
    mqtt_session_expiry = fields.Integer(
        string="Session expiry (s)",
        default=7 * 24 * 3600,
        tracking=True,
        help="How long the broker keeps the session and its queued messages while no listener is connected.",
    )
    mqtt_state = fields.Selection(
        [("connected", "Connected"), ("disconnected", "Disconnected")], string="Listener", readonly=True
    )
    mqtt_connected_since = fields.Datetime(readonly=True)
    mqtt_last_error = fields.Char(readonly=True)
    mqtt_seen_at = fields.Datetime(string="Listener last seen", readonly=True)
    mqtt_inbound_topic = fields.Char(compute="_compute_mqtt_topics", string="Inbound topics")
    mqtt_outbound_topic = fields.Char(compute="_compute_mqtt_topics", string="Outbound topics")
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
    # Dashboard figures (today = since midnight UTC)
    count_received_today = fields.Integer(string="Received today (inbound)", compute="_compute_dashboard")
    count_sent_today = fields.Integer(string="Sent today (outbound)", compute="_compute_dashboard")
    count_stuck = fields.Integer(
        string="Stuck in processing",
        compute="_compute_dashboard",
        help="Messages in Processing whose drain is gone (they are taken again by the next drain).",
    )
    count_done_today = fields.Integer(compute="_compute_dashboard")
    count_pending = fields.Integer(compute="_compute_dashboard")
    count_failed = fields.Integer(compute="_compute_dashboard")
    count_dead = fields.Integer(compute="_compute_dashboard")
    count_rejected_today = fields.Integer(compute="_compute_dashboard")
    alert_ids = fields.One2many("mfg.backend.alert", "backend_id", string="Alerts")
    alert_count = fields.Integer(compute="_compute_alert_count")
    count_done_yesterday = fields.Integer(compute="_compute_done_yesterday")
    oldest_pending_minutes = fields.Integer(compute="_compute_dashboard")
    sla_minutes = fields.Integer(compute="_compute_dashboard", help="Smallest SLA of the backend's flows.")
    health = fields.Selection(
        [("ok", "OK"), ("late", "Late"), ("error", "Errors"), ("stalled", "Stalled")],
        compute="_compute_dashboard",
        help="Stalled: messages wait to be processed and none was processed for a minute, or some are "
        "stuck in Processing after their drain died.",
    )

    _sql_constraints = [("code_uniq", "unique(code)", "The backend code must be unique.")]

    # ------------------------------------------------------------------ computes
    @api.depends(
        "mqtt_topic_prefix", "plant_code", "code", "system_kind", "mqtt_shared_group", "mqtt_protocol"
    )
    def _compute_mqtt_topics(self):
        from ..components import mqtt_client

        for rec in self:
            settings = rec._mfg_mqtt_topic_settings()
            rec.mqtt_inbound_topic = mqtt_client.inbound_filter(settings)
            rec.mqtt_outbound_topic = mqtt_client.outbound_topic(settings, "<contract>")

    def _mfg_mqtt_topic_settings(self):
        self.ensure_one()
        return {
            "topic_prefix": self.mqtt_topic_prefix or "mfg",
            "plant": self.plant_code or self.code or "plant",
            "system": self.system_kind or "other",
            "shared_group": self.mqtt_shared_group,
            "protocol": self.mqtt_protocol,
        }

    def _mfg_mqtt_settings(self):
        """Plain dict of the MQTT connection of this backend (for the listener and publisher)."""
        self.ensure_one()
        rec = self.sudo()
        settings = rec._mfg_mqtt_topic_settings()
        settings.update(
            {
                "host": rec.mqtt_host or "127.0.0.1",
                "port": rec.mqtt_port or 1883,
                "username": rec.mqtt_username or None,
                "password": rec.mqtt_password or None,
                "tls": rec.mqtt_tls,
                **rec._mfg_mqtt_tls_settings(),  # PEM contents (hashed), never paths
                "session_expiry": rec.mqtt_session_expiry or 0,
            }
        )
        return settings

    def _mfg_mqtt_client_id(self, listener_name):
        self.ensure_one()
        base = self.mqtt_client_id or f"odoo-{self.code}"
        return f"{base}-{listener_name}"[:128]

    def _compute_mapping_count(self):
        groups = self.env["mfg.code.mapping"]._read_group(
            [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
        )
        counts = {b.id: c for b, c in groups}
        for rec in self:
            rec.mapping_count = counts.get(rec.id, 0)

    def _compute_dashboard(self):
        today = fields.Datetime.to_datetime(fields.Date.context_today(self))
        stats = {b.id: {} for b in self}
        if self.ids:
            self.env.cr.execute(
                f"""
                SELECT backend_id,
                       count(*) FILTER (WHERE received_at >= %(today)s AND direction = 'inbound'),
                       count(*) FILTER (WHERE received_at >= %(today)s AND direction = 'outbound'),
                       count(*) FILTER (WHERE state = 'processing' AND {orphaned_claim_sql()}),
                       max(processed_at),
                       count(*) FILTER (WHERE state = 'done' AND processed_at >= %(today)s),
                       count(*) FILTER (WHERE state IN %(pending)s),
                       count(*) FILTER (WHERE state = 'failed'),
                       count(*) FILTER (WHERE state = 'dead'),
                       count(*) FILTER (WHERE state = 'rejected' AND received_at >= %(today)s),
                       min(received_at) FILTER (WHERE state IN %(pending)s)
                  FROM mfg_message m WHERE backend_id IN %(ids)s GROUP BY backend_id
                """,
                {
                    "today": today,
                    "pending": PENDING_STATES,
                    "ids": tuple(self.ids),
                    "lease": claim_lease_seconds(),
                },
            )
            for (
                bid,
                rec_t,
                sent_t,
                stuck,
                last_done,
                done_t,
                pend,
                failed,
                dead,
                rej_t,
                oldest,
            ) in self.env.cr.fetchall():
                stats[bid] = {
                    "received": rec_t,
                    "sent": sent_t,
                    "stuck": stuck,
                    "last_processed": last_done,
                    "done": done_t,
                    "pending": pend,
                    "failed": failed,
                    "dead": dead,
                    "rejected": rej_t,
                    "oldest": oldest,
                }
            # The oldest message a drain should be taking now (realtime flow, due, not held by
            # a failed or waiting earlier message of its key): if it waits and nothing was
            # processed for a minute, the drains are not running.
            self.env.cr.execute(
                """
                SELECT m.backend_id, min(m.received_at)
                  FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
                 WHERE m.backend_id IN %(ids)s AND t.sync_class = 'realtime'
                   AND (m.state IN ('received', 'queued')
                        OR (m.state = 'retrying' AND m.next_attempt_at <= now() AT TIME ZONE 'UTC'))
                   AND (m.ordering_key IS NULL OR NOT EXISTS (
                        SELECT 1 FROM mfg_message p
                         WHERE p.backend_id = m.backend_id AND p.direction = m.direction
                           AND p.ordering_key = m.ordering_key AND p.id < m.id
                           AND p.state IN ('retrying', 'failed', 'dead')))
                 GROUP BY m.backend_id
                """,
                {"ids": tuple(self.ids)},
            )
            for bid, oldest_due in self.env.cr.fetchall():
                stats[bid]["oldest_due"] = oldest_due
        now = fields.Datetime.now()
        for rec in self:
            st = stats.get(rec.id, {})
            rec.count_received_today = st.get("received", 0)
            rec.count_sent_today = st.get("sent", 0)
            rec.count_stuck = st.get("stuck", 0)
            rec.count_done_today = st.get("done", 0)
            rec.count_pending = st.get("pending", 0)
            rec.count_failed = st.get("failed", 0)
            rec.count_dead = st.get("dead", 0)
            rec.count_rejected_today = st.get("rejected", 0)
            oldest = st.get("oldest")
            rec.oldest_pending_minutes = int((now - oldest).total_seconds() // 60) if oldest else 0
            slas = [s for s in rec.flow_ids.exchange_type_id.mapped("sla_minutes") if s > 0]
            rec.sla_minutes = min(slas) if slas else 0
            last, oldest_due = st.get("last_processed"), st.get("oldest_due")
            if rec.count_stuck or (
                oldest_due
                and (now - oldest_due).total_seconds() >= STALL_SECONDS
                and (not last or (now - last).total_seconds() >= STALL_SECONDS)
            ):
                # Work waits and nothing was processed for a minute: the drains are not running.
                rec.health = "stalled"
            elif rec.count_failed or rec.count_dead:
                rec.health = "error"
            elif rec.sla_minutes and oldest and rec.oldest_pending_minutes >= rec.sla_minutes:
                rec.health = "late"
            else:
                rec.health = "ok"

    # ------------------------------------------------------------------ contracts (system of record)
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
        """Refuse a message of a type this backend is not enabled for (system-of-record policy)."""
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
            try:
                with self.env.registry.cursor() as cr:
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    cr.execute(query, (tuple(self.ids),))
            except Exception:  # a contact time is not worth losing a message
                _logger.warning("mfg: could not record the last contact of %s", self.ids, exc_info=True)
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

    # ------------------------------------------------------------------ drain jobs
    def _mfg_enqueue_drain(self, direction, channel, eta=None, sync_class="realtime", partition=None):
        """Start drain jobs for this backend and channel (one per partition, or the given
        partition only), unless one is already waiting for that partition — once this
        transaction has committed.

        ``sync_class``: 'realtime' drains real-time types only (batch types wait for their
        cron), 'all' drains every type (retries, manual actions, the batch cron).

        Why after the commit: a waiting drain job found now would be reused, but it may start
        and claim before this transaction commits, and then never see the messages this
        transaction adds (they would wait for the drain-due cron). Looked up after the
        commit, a waiting job is sure to claim after the messages are visible. Requests in
        one transaction are merged: one look-up per backend, direction, channel and class.
        """
        self.ensure_one()
        if sync_class == "batch":
            return
        if self._mfg_single_transaction():
            self._mfg_enqueue_drain_now(direction, channel, eta, sync_class, partition)
            return
        postcommit = self.env.cr.postcommit
        wanted = postcommit.data.get("mfg_drains")
        if wanted is None:
            wanted = postcommit.data["mfg_drains"] = {}
            registry, uid, context = self.env.registry, self.env.uid, dict(self.env.context)

            @postcommit.add
            def enqueue_after_commit():
                try:
                    with registry.cursor() as cr:
                        env = api.Environment(cr, uid, context)
                        for backend_id, args in list(wanted.items()):
                            env["mfg.backend"].browse(backend_id[0])._mfg_enqueue_drain_now(*args)
                except Exception:
                    _logger.exception("mfg: could not start drain jobs; the drain-due cron will start them")

        args = (direction, channel, eta, sync_class, partition)
        wanted[(self.id, *args)] = args

    def _mfg_enqueue_drain_now(
        self, direction, channel, eta=None, sync_class="realtime", partition=None, deduplicate=True
    ):
        """The drain jobs of ``_mfg_enqueue_drain``, in this transaction.

        ``deduplicate=False``: enqueue even if a drain job of the same partition seems to wait
        (its identity key): after a crash the jobs of the dead server stay 'enqueued' or
        'started' until queue_job's runner finds them dead, and drains are safe side by side.
        """
        self.ensure_one()
        partitions = drain_partitions()
        jobs = []
        for part in range(partitions) if partition is None else [partition]:
            key = f"mfg_drain:{self.id}:{direction}:{channel}:{sync_class}:p{part}of{partitions}"
            if eta:
                key += f":{fields.Datetime.to_datetime(eta):%Y%m%d%H%M}"
            jobs.append(
                self.with_delay(
                    channel=channel,
                    eta=eta,
                    identity_key=key if deduplicate else None,
                    description=f"Drain {direction} messages of {self.code} ({channel}, part {part + 1}/{partitions})",
                )._mfg_drain(direction, channel, sync_class == "all", DRAIN_BATCH, part, partitions)
            )
        return jobs

    def _mfg_drain(
        self,
        direction="inbound",
        channel="root.mfg",
        include_batch=False,
        limit=DRAIN_BATCH,
        partition=0,
        partitions=1,
    ):
        """Job: claim a batch of due messages, process each in its own savepoint, commit.

        The claim is its own short READ COMMITTED transaction (``SKIP LOCKED``: concurrent
        drains on other workers or hosts never share a message); the batch is then processed
        in a fresh transaction, whose snapshot already sees the claim. After that commit, a
        follow-up drain is enqueued if claimable messages remain. ``partition``/``partitions``:
        this drain takes only the ordering keys of its partition, so that drains of other
        partitions apply other keys at the same time. Under Odoo's test runner everything runs
        in the test's transaction instead.
        """
        self.ensure_one()
        type_ids = self._mfg_drain_type_ids(channel, include_batch)
        if not type_ids:
            return "claimed 0, no exchange type on this channel"
        job_uuid = self.env.context.get("job_uuid")
        sync_class = "all" if include_batch else "realtime"
        part = {"partition": partition, "partitions": partitions}
        # A follow-up takes the same partition, unless this drain did not run as one of the
        # configured partitions (a direct call): then every partition gets one.
        own_partition = partition if partitions == drain_partitions() else None
        Message = self.env["mfg.message"].sudo()
        if self._mfg_single_transaction():
            with self._mfg_claim_lock(self.env.cr, own_transaction=False) as lock:
                messages, token = Message._mfg_claim(
                    self, direction, type_ids, limit, job_uuid=job_uuid, claim_lock=lock, **part
                )
                stats = self._mfg_process_claimed(messages, token)
            if stats["claimed"] >= limit:
                self._mfg_enqueue_drain(direction, channel, sync_class=sync_class, partition=own_partition)
            self._mfg_schedule_next_retry(direction, channel, type_ids, own_partition, part)
            return "claimed {claimed}, done {done}, held by ordering key {held}".format(**stats)
        stats = {"claimed": 0, "done": 0, "held": 0}
        # One connection for the whole drain: it holds the claim lock from before the claim
        # until the outcomes are committed, so that its claims die with it (see _mfg_claim).
        with self.env.registry.cursor() as cr, self._mfg_claim_lock(cr) as lock:
            env = self.env(cr=cr)
            messages, token = (
                env["mfg.message"]
                .sudo()
                ._mfg_claim(
                    self.with_env(env), direction, type_ids, limit, job_uuid=job_uuid, claim_lock=lock, **part
                )
            )
            ids = messages.ids
            # The drain's own cursor (not the job's): the claim is its own short transaction.
            cr.commit()  # pylint: disable=invalid-commit
            if ids:
                # A fresh transaction (REPEATABLE READ, Odoo's default) whose snapshot sees the claim.
                try:
                    env = self.env(cr=cr)
                    stats = self.with_env(env)._mfg_process_claimed(
                        env["mfg.message"].sudo().browse(ids), token
                    )
                    cr.commit()  # pylint: disable=invalid-commit
                except Exception:
                    cr.rollback()
                    self.env(cr=cr)["mfg.message"]._mfg_release(ids, token)
                    cr.commit()  # pylint: disable=invalid-commit
                    raise
            # Committed. Is there more to do in this partition that no other drain will pick up?
            # (Checked in a new transaction, so that it sees every commit, other drains' included.)
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            env = self.env(cr=cr)
            backend = self.with_env(env)
            if env["mfg.message"]._mfg_claimable_count(backend, direction, type_ids, **part):
                backend._mfg_enqueue_drain(direction, channel, sync_class=sync_class, partition=own_partition)
            backend._mfg_schedule_next_retry(direction, channel, type_ids, own_partition, part)
        return "claimed {claimed}, done {done}, held by ordering key {held}".format(**stats)

    def _mfg_schedule_next_retry(self, direction, channel, type_ids, own_partition, part):
        """A drain for the earliest retry of this partition that is not due yet.

        Retry drains share one job per partition and minute (identity key), which keeps the
        eta of the first failure: messages that failed later in the same minute were not due
        when it ran, and waited for the drain-due cron. Each drain looks ahead once at its end.
        """
        first = self.env["mfg.message"]._mfg_next_retry(self, direction, type_ids, **part)
        if first:
            self._mfg_enqueue_drain(
                direction,
                channel,
                eta=first.next_attempt_at,
                sync_class="all",
                partition=first._mfg_partition(),
            )

    def _mfg_claim_lock(self, cr, own_transaction=True):
        """Hold a fresh claim lock on ``cr``'s connection (see ``pipeline.claim.claim_lock``)."""
        return claims.claim_lock(cr, own_transaction=own_transaction)

    def _mfg_drain_type_ids(self, channel, include_batch):
        domain = [("channel", "=", channel)]
        if not include_batch:
            domain.append(("sync_class", "=", "realtime"))
        return self.env["mfg.exchange.type"].with_context(active_test=False).search(domain).ids

    def _mfg_single_transaction(self):
        """Run in this transaction only (see pipeline/tx.py)."""
        return tx.single_transaction(self.env)

    def _mfg_process_claimed(self, messages, token):
        """Apply claimed messages in arrival order; give back those their key holds.

        Inbound messages are applied in runs that share one savepoint (a savepoint per message
        costs a flush and two round trips each). A run in which anything fails is rolled back
        whole and applied again one message at a time, each in its own savepoint, so a failure
        still undoes only its own message; the run size then halves (and doubles again after
        runs that succeed), so a flow with many failures soon runs message by message.
        Outbound messages are always sent one at a time (a send cannot be rolled back).
        """
        held_back = messages._mfg_held_back(token)
        blocked_keys = set()
        skipped = []
        stats = {"done": 0}
        run, run_size = [], [RUN_MAX]
        self.env.cr.cache["mfg_resolve"] = {}  # code look-ups shared by the batch (see _mfg_resolve)
        outer = self.env.cr.cache.get("mfg_outcomes")
        batch = self.env.cr.cache["mfg_outcomes"] = {"done": [], "links": []}

        def one_by_one(msgs):
            for msg in msgs:
                key = msg.ordering_key
                if key and key in blocked_keys:
                    skipped.append(msg.id)
                    continue
                if msg._mfg_process():
                    stats["done"] += 1
                elif key:
                    blocked_keys.add(key)  # failed or retrying: the rest of its key waits

        def flush_run():
            if len(run) > 1 and self._mfg_apply_run(run, batch):
                stats["done"] += len(run)
                run_size[0] = min(RUN_MAX, run_size[0] * 2)
            else:
                if len(run) > 1:
                    run_size[0] = max(1, run_size[0] // 2)
                one_by_one(run)
            run.clear()

        try:
            for msg in messages:
                key = msg.ordering_key
                if key and (msg.id in held_back or key in blocked_keys):
                    blocked_keys.add(key)
                    skipped.append(msg.id)
                    continue
                if msg.direction != "inbound":
                    flush_run()
                    one_by_one(msg)
                    continue
                run.append(msg)
                if len(run) >= run_size[0]:
                    flush_run()
            flush_run()
            self.env["mfg.message"]._mfg_write_batch_outcomes(batch)
        finally:
            self.env.cr.cache.pop("mfg_resolve", None)
            if outer is None:
                self.env.cr.cache.pop("mfg_outcomes", None)
            else:
                self.env.cr.cache["mfg_outcomes"] = outer
        self.env["mfg.message"]._mfg_release(skipped, token)
        return {"claimed": len(messages), "done": stats["done"], "held": len(skipped)}

    def _mfg_apply_run(self, run, batch):
        """Apply ``run`` (inbound messages, in order) in one savepoint. True when every one is
        done; on any error the savepoint is rolled back, the outcomes buffered by the run are
        dropped, and False is returned (the caller applies them again one by one)."""
        n_done, n_links = len(batch["done"]), len(batch["links"])
        try:
            with self.env.cr.savepoint():
                for msg in run:
                    msg._mfg_process(isolated=False)
        except Exception:
            del batch["done"][n_done:]
            del batch["links"][n_links:]
            self.env.cr.cache["mfg_resolve"] = {}  # may name records the rollback undid
            return False
        return True

    def _register_hook(self):
        """At start-up (each process loading the registry): drains that died with the previous
        server left messages 'processing'; start drains for them now rather than wait for the
        queue_job runner's dead-job check or the drain-due cron. Cheap when there are none."""
        super()._register_hook()
        try:
            with self.env.cr.savepoint():
                self._mfg_resume_orphaned_claims()
        except Exception:  # never a reason for the registry not to load
            _logger.warning("mfg: could not resume the claims of dead drains", exc_info=True)

    @api.model
    def _mfg_resume_orphaned_claims(self):
        """Re-queue the drain jobs of a dead server, and start drains for their claims."""
        self._mfg_requeue_dead_drain_jobs()
        self.env.cr.execute(
            f"""SELECT DISTINCT m.backend_id, m.direction, t.channel
                  FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
                 WHERE m.state = 'processing' AND {orphaned_claim_sql()}""",
            {"lease": claim_lease_seconds()},
        )
        rows = self.env.cr.fetchall()
        for backend_id, direction, channel in rows:
            _logger.info("mfg: resuming the messages of backend %s claimed by a drain that died", backend_id)
            self.browse(backend_id)._mfg_enqueue_drain_now(
                direction, channel, sync_class="all", deduplicate=False
            )
        return len(rows)

    @api.model
    def _mfg_requeue_dead_drain_jobs(self):
        """Drain jobs left 'enqueued' or 'started' by a server that died, back to 'pending'.

        queue_job's runner does the same for every job, but only for jobs enqueued more than
        10 s ago and only when it wakes up (up to a minute later); meanwhile they fill their
        channel's capacity, so no other drain runs. The same query as the runner's (a started
        job is dead when its lock row is not locked), without the delay: a drain is safe to run
        twice (it claims with SKIP LOCKED), so a job another live runner is just starting costs
        at most one empty run.
        """
        self.env.cr.execute(
            """
            UPDATE queue_job SET state = 'pending'
             WHERE model_name = 'mfg.backend' AND method_name = '_mfg_drain'
               AND state IN ('enqueued', 'started')
               AND (id IN (SELECT l.queue_job_id FROM queue_job_lock l WHERE l.queue_job_id = queue_job.id
                           FOR NO KEY UPDATE SKIP LOCKED)
                    OR NOT EXISTS (SELECT 1 FROM queue_job_lock l WHERE l.queue_job_id = queue_job.id))
            RETURNING uuid
            """
        )
        uuids = [r[0] for r in self.env.cr.fetchall()]
        if uuids:
            _logger.warning("mfg: re-queued %s drain job(s) of a server that died: %s", len(uuids), uuids)
        return uuids

    @api.model
    def _cron_mfg_drain_due(self):
        """Safety net and batch flows: start drains where due messages wait without a job, or
        where a drain died holding claims."""
        self.env.cr.execute(
            f"""
            SELECT DISTINCT m.backend_id, m.direction, t.channel
              FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
             WHERE (m.state IN ('received', 'queued', 'retrying')
                    AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= now() AT TIME ZONE 'UTC'))
                OR {orphaned_claim_sql()}
            """,
            {"lease": claim_lease_seconds()},
        )
        for backend_id, direction, channel in self.env.cr.fetchall():
            self.browse(backend_id)._mfg_enqueue_drain(direction, channel, sync_class="all")

    # ------------------------------------------------------------------ business alerts (see mfg_monitoring.py)
    def _compute_alert_count(self):
        counts = dict(
            self.env["mfg.backend.alert"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.alert_count = counts.get(backend, 0)

    def _compute_done_yesterday(self):
        today = fields.Datetime.to_datetime(fields.Date.context_today(self))
        counts = {}
        if self.ids:
            self.env.cr.execute(
                """SELECT backend_id, count(*) FROM mfg_message
                    WHERE backend_id IN %s AND state = 'done' AND processed_at >= %s AND processed_at < %s
                    GROUP BY backend_id""",
                (tuple(self.ids), today - timedelta(days=1), today),
            )
            counts = dict(self.env.cr.fetchall())
        for backend in self:
            backend.count_done_yesterday = counts.get(backend.id, 0)

    def action_view_alerts(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_backend_alert"
        )
        action["domain"] = [("backend_id", "in", self.ids)]
        return action

    def action_refresh_alerts(self):
        self.search([])._mfg_monitor()
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    @api.model
    def _cron_mfg_monitor(self):
        self.search([])._mfg_monitor()

    def _mfg_monitor(self):
        """Replace the alerts of these backends by what is true now."""
        now = fields.Datetime.now()
        Alert = self.env["mfg.backend.alert"].sudo()
        Alert.search([("backend_id", "in", self.ids)]).unlink()
        values = []
        for backend in self:
            for alert in Alert._mfg_alerts_for(backend, now):
                values.append({"backend_id": backend.id, "detected_at": now, **alert})
        return Alert.create(values)

    # ------------------------------------------------------------------ monitoring and retention
    @api.model
    def _cron_mfg_late_messages(self):
        """One activity per backend and late exchange type for the managers (no chatter flood)."""
        self.env.cr.execute(
            """
            SELECT m.backend_id, m.exchange_type_id, count(*), min(m.received_at)
              FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
             WHERE m.state IN %s AND t.sla_minutes > 0
               AND m.received_at <= (now() AT TIME ZONE 'UTC') - make_interval(mins => t.sla_minutes)
             GROUP BY m.backend_id, m.exchange_type_id
            """,
            (PENDING_STATES,),
        )
        rows = self.env.cr.fetchall()
        activity_type = self.env.ref("mfg_integration_base.mail_activity_mfg_late", raise_if_not_found=False)
        managers = self.env.ref("mfg_integration_base.group_mfg_manager").users.filtered(
            lambda u: not u.share and u.active
        )
        user = managers[:1] or self.env.ref("base.user_admin")
        created = 0
        for backend_id, type_id, count, oldest in rows:
            backend = self.browse(backend_id)
            etype = self.env["mfg.exchange.type"].browse(type_id)
            summary = self.env._("Late messages: %(type)s", type=etype.contract)
            existing = backend.activity_ids.filtered(lambda a, s=summary: a.summary == s)
            if existing:
                continue
            backend.activity_schedule(
                activity_type_id=activity_type.id if activity_type else False,
                summary=summary,
                note=self.env._(
                    "%(count)s message(s) of %(type)s have waited longer than the SLA of %(sla)s min "
                    "(oldest received %(oldest)s UTC).",
                    count=count,
                    type=etype.contract,
                    sla=etype.sla_minutes,
                    oldest=oldest,
                ),
                user_id=user.id,
            )
            created += 1
        return created

    @api.model
    def _cron_mfg_retention(self, batch=5000):
        """Delete done messages older than their exchange type's retention, in batches."""
        deleted = 0
        for etype in (
            self.env["mfg.exchange.type"].with_context(active_test=False).search([("retention_days", ">", 0)])
        ):
            limit_date = fields.Datetime.now() - timedelta(days=etype.retention_days)
            while True:
                # The messages, and their chatter and followers (no foreign key cascades there).
                self.env.cr.execute(
                    """
                    WITH gone AS (
                        DELETE FROM mfg_message WHERE id IN (
                            SELECT id FROM mfg_message
                             WHERE exchange_type_id = %s AND state = 'done' AND processed_at < %s
                             ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                        RETURNING id
                    ), chatter AS (
                        DELETE FROM mail_message
                         WHERE model = 'mfg.message' AND res_id IN (SELECT id FROM gone)
                    ), followers AS (
                        DELETE FROM mail_followers
                         WHERE res_model = 'mfg.message' AND res_id IN (SELECT id FROM gone)
                    )
                    SELECT count(*) FROM gone
                    """,
                    (etype.id, limit_date, batch),
                )
                count = self.env.cr.fetchone()[0]
                deleted += count
                if count < batch:
                    break
        if deleted:
            self.env["mfg.message"].invalidate_model()
            _logger.info("mfg retention: %s done message(s) deleted", deleted)
        return deleted

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
        """Test what is configured: the HTTP URL (any HTTP status counts as reachable) and/or,
        when MQTT is enabled, the broker (a throwaway client must get a CONNACK). Records the
        outcome in last_error / mqtt_last_error and reports every test in one notification."""
        self.ensure_one()
        import uuid

        import requests

        from ..components import mqtt_client

        _ = self.env._
        if not self.http_url and not self.mqtt_enabled:
            raise UserError(
                _(
                    "Backend %(b)s has nothing to test: set its HTTP URL or enable MQTT "
                    "(broker host and port) on the Connection and MQTT tabs.",
                    b=self.code,
                )
            )
        lines, all_ok = [], True
        if self.http_url:
            try:
                # Same checks as sending: allowed hosts only, no redirect followed.
                status = self.env["mfg.transport.http"]._mfg_probe(self.http_url, self.http_timeout)
                text = _("%(url)s answered HTTP %(status)s.", url=self.http_url, status=status)
                self.last_error = False
            except MfgPermanentError as exc:
                text = exc.message
                self.last_error = text
                all_ok = False
            except requests.RequestException as exc:
                text = _("%(url)s is not reachable: %(error)s", url=self.http_url, error=type(exc).__name__)
                self.last_error = text
                all_ok = False
            lines.append(text)
        if self.mqtt_enabled:
            broker = f"{self.mqtt_host or '127.0.0.1'}:{self.mqtt_port or 1883}"
            try:
                settings = self._mfg_mqtt_settings()  # TLS files outside file_roots: refused, not probed
            except MfgPermanentError as exc:
                ok, detail = False, exc.message
            else:
                client_id = f"odoo-test-{self.code}-{uuid.uuid4().hex[:12]}"
                ok, detail = mqtt_client.probe(settings, client_id, timeout=5.0)
            if ok:
                text = _("MQTT broker %(broker)s accepted the connection.", broker=broker)
                self.mqtt_last_error = False
            else:
                text = _("MQTT broker %(broker)s: %(error)s", broker=broker, error=detail)
                self.mqtt_last_error = text[:250]
                all_ok = False
            lines.append(text)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Connection test"),
                "message": "\n".join(lines),
                "type": "success" if all_ok else "danger",
                "className": "text-prewrap",
                "sticky": False,
            },
        }

    # ------------------------------------------------------------------ built-in flow
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

    # ------------------------------------------------------------------ demo
    @api.model
    def _mfg_load_demo_plant(self):
        """Demo plant for setup/run: an MES backend on the local MQTT broker, its flows, and a
        few processed messages so that the screens are not empty. Idempotent."""
        backend = self.search([("code", "=", "plant1-mes")], limit=1)
        if not backend:
            backend = self.create(
                {
                    "name": "Plant 1 — MES",
                    "code": "plant1-mes",
                    "plant_code": "P01",
                    "system_kind": "mes",
                    "warehouse_id": self.env["stock.warehouse"].search([], limit=1).id,
                    "mqtt_enabled": True,
                    "mqtt_host": settings.get_str("mqtt_host", "127.0.0.1"),
                    "mqtt_port": settings.get_int("mqtt_port", 1883),
                }
            )
        unroutable = self.env.ref("mfg_integration_base.exchange_type_unroutable")
        types = self.env["mfg.exchange.type"].search([("id", "!=", unroutable.id)])
        for etype in types:
            flow = backend._mfg_flow(etype)
            if not flow:
                flow = self.env["mfg.backend.flow"].create(
                    {"backend_id": backend.id, "exchange_type_id": etype.id}
                )
            # The demo plant speaks MQTT both ways: it has no HTTP endpoint to send to.
            if (
                etype.direction == "outbound"
                and flow.transport == "http"
                and not backend.http_url
                and not flow.endpoint
            ):
                flow.transport = "mqtt"
        Message = self.env["mfg.message"]
        if not Message.search_count([("backend_id", "=", backend.id)]):
            heartbeat = self.env.ref("mfg_integration_base.exchange_type_plant_heartbeat")
            now = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            samples = [
                {"message_id": "demo-hb-1", "sent_at": now, "status": "running"},
                {"message_id": "demo-hb-2", "sent_at": now, "status": "degraded", "detail": "Line 2 paused"},
                {"message_id": "demo-hb-3", "sent_at": "yesterday", "status": "on fire"},
            ]
            Message._mfg_receive(
                backend, heartbeat, [{"payload": json.dumps(p)} for p in samples], transport="demo"
            )
            backend.with_context(mfg_single_transaction=True)._mfg_drain("inbound", heartbeat.channel)
        return (
            f"backend {backend.code} with {len(backend.flow_ids)} flow(s); "
            f"MQTT topics {backend.mqtt_inbound_topic}; "
            f"{Message.search_count([('backend_id', '=', backend.id)])} message(s)"
        )


# Keep MAPPING_KINDS importable from here for handlers that build their own lookups.
__all__ = ["MfgBackend", "MAPPING_KINDS"]
