"""The dashboard of a backend: today's figures of its messages and its health (ok, late, errors,
stalled), computed with a few SQL queries per screen (no stored counters to keep up to date)."""

from datetime import timedelta

from odoo import fields, models

from ..pipeline.claim import claim_lease_seconds, orphaned_claim_sql
from ..pipeline.states import PENDING_STATES

STALL_SECONDS = 60  # pending work with nothing processed for this long: health 'stalled'

FIGURES = (
    "received",
    "sent",
    "stuck",
    "last_processed",
    "done",
    "pending",
    "failed",
    "dead",
    "rejected",
    "oldest",
)


def message_figures(cr, backend_ids, today):
    """``{backend_id: {figure: value}}`` of the messages of ``backend_ids`` (see FIGURES);
    ``today``: midnight, the start of the day's counts."""
    cr.execute(
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
            "ids": tuple(backend_ids),
            "lease": claim_lease_seconds(),
        },
    )
    return {row[0]: dict(zip(FIGURES, row[1:], strict=True)) for row in cr.fetchall()}


def oldest_due(cr, backend_ids):
    """``{backend_id: received_at}`` of the oldest message a drain should be taking now
    (real-time exchange type, due, not held by a failed or waiting earlier message of its key)."""
    cr.execute(
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
        {"ids": tuple(backend_ids)},
    )
    return dict(cr.fetchall())


class MfgBackend(models.Model):
    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

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
    count_done_yesterday = fields.Integer(compute="_compute_done_yesterday")
    oldest_pending_minutes = fields.Integer(compute="_compute_dashboard")
    sla_minutes = fields.Integer(compute="_compute_dashboard", help="Smallest SLA of the backend's flows.")
    health = fields.Selection(
        [("ok", "OK"), ("late", "Late"), ("error", "Errors"), ("stalled", "Stalled")],
        compute="_compute_dashboard",
        help="Stalled: messages wait to be processed and none was processed for a minute, or some are "
        "stuck in Processing after their drain died.",
    )

    def _compute_dashboard(self):
        today = fields.Datetime.to_datetime(fields.Date.context_today(self))
        stats = {b.id: {} for b in self}
        if self.ids:
            stats.update(message_figures(self.env.cr, self.ids, today))
            # The oldest message a drain should be taking now: if it waits and nothing was
            # processed for a minute, the drains are not running.
            for bid, due in oldest_due(self.env.cr, self.ids).items():
                stats[bid]["oldest_due"] = due
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
            rec.health = rec._mfg_health(now, st.get("last_processed"), st.get("oldest_due"), oldest)

    def _mfg_health(self, now, last_processed, oldest_due_at, oldest_pending):
        """Health from the computed figures of this backend and the times of its last processed,
        oldest due and oldest pending messages."""
        self.ensure_one()
        if self.count_stuck or (
            oldest_due_at
            and (now - oldest_due_at).total_seconds() >= STALL_SECONDS
            and (not last_processed or (now - last_processed).total_seconds() >= STALL_SECONDS)
        ):
            # Work waits and nothing was processed for a minute: the drains are not running.
            return "stalled"
        if self.count_failed or self.count_dead:
            return "error"
        if self.sla_minutes and oldest_pending and self.oldest_pending_minutes >= self.sla_minutes:
            return "late"
        return "ok"

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
