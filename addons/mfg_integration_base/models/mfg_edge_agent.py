"""The plant edge agents a backend heard of: written by the listener's ``edge_status`` topic claim
(transports/mqtt/edge_status.py) from the retained status each agent publishes on
``<root>/edge/<agent>/status``; alerts when an agent goes silent or its spool grows
(``_mfg_alerts``, called by mfg.backend.alert)."""

import json
from datetime import UTC, datetime, timedelta

from odoo import api, fields, models


class MfgEdgeAgent(models.Model):
    _name = "mfg.edge.agent"
    _description = "Integration Edge Agent"
    _order = "backend_id, name"

    name = fields.Char(string="Agent", required=True, readonly=True, index=True)
    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    active = fields.Boolean(
        default=True, help="Archive an agent that was taken out of service: it raises no alert any more."
    )
    version = fields.Char(readonly=True)
    online = fields.Boolean(readonly=True, help="False once the broker published the agent's will.")
    state = fields.Selection(
        [("online", "Online"), ("silent", "Silent"), ("offline", "Offline")],
        compute="_compute_state",
        help="Silent: online by its last status, but not heard from for longer than the backend's "
        "'Edge agent silent after (s)'.",
    )
    started_at = fields.Datetime(readonly=True)
    sent_at = fields.Datetime(string="Last status sent at", readonly=True, help="The agent's clock.")
    last_seen = fields.Datetime(
        readonly=True,
        help="When Odoo last received a status of the agent (its sending time for a retained one).",
    )
    link = fields.Selection(
        [("up", "Up"), ("down", "Down"), ("unknown", "Unknown")],
        readonly=True,
        help="The agent's own view of its link to the central broker.",
    )
    spool_depth = fields.Integer(string="Spooled messages", readonly=True)
    spool_oldest_at = fields.Datetime(string="Oldest spooled message", readonly=True)
    cache_entries = fields.Integer(string="Cached records", readonly=True)
    cache_newest_at = fields.Datetime(string="Newest cached record", readonly=True)
    cache_age_seconds = fields.Float(string="Cache age (s)", readonly=True)
    sources = fields.Text(readonly=True, help="The agent's plant sources, as it reported them (JSON).")
    status_count = fields.Integer(string="Statuses received", readonly=True)
    error_count = fields.Integer(string="Statuses refused", readonly=True)
    last_error = fields.Char(readonly=True)
    last_error_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("backend_agent_uniq", "unique(backend_id, name)", "An edge agent is listed once per backend."),
    ]

    @api.depends("online", "last_seen", "backend_id.edge_silent_seconds")
    def _compute_state(self):
        now = fields.Datetime.now()
        for agent in self:
            if not agent.online:
                agent.state = "offline"
            elif agent._mfg_silent(now):
                agent.state = "silent"
            else:
                agent.state = "online"

    def _mfg_silent(self, now):
        limit = self.backend_id.edge_silent_seconds
        return bool(limit) and (not self.last_seen or self.last_seen < now - timedelta(seconds=limit))

    # ------------------------------------------------------------------ written by the listener's claim
    @api.model
    def _mfg_edge_status(self, backend_id, agent, status, received, retained=False, error=None):
        """Store what the claim read on ``<root>/edge/<agent>/status`` (``status``: the dict of
        edge_status.parse_status, None when refused with ``error``; ``received``: epoch seconds).
        A status older than the one stored (by its ``sent_at``) is ignored; a retained one (a
        replay at subscription) counts as seen when it was sent, not when it arrived."""
        backend = self.env["mfg.backend"].sudo().browse(backend_id).exists()
        if not backend:
            return self.browse()
        Agent = self.sudo().with_context(active_test=False)
        rec = Agent.search([("backend_id", "=", backend.id), ("name", "=", agent)], limit=1)
        if not rec:
            rec = Agent.create({"backend_id": backend.id, "name": agent})
        now = datetime.fromtimestamp(received, UTC).replace(tzinfo=None, microsecond=0)
        if error is not None:
            rec.write({"error_count": rec.error_count + 1, "last_error": error[:250], "last_error_at": now})
            return rec
        if not status["online"]:  # the will: gone, last seen when it last spoke
            rec.write({"online": False, "status_count": rec.status_count + 1})
            return rec
        if rec.sent_at and status["sent_at"] < rec.sent_at:
            return rec  # an older status (e.g. a retained replay after a newer one)
        seen = min(now, status["sent_at"]) if retained else now
        vals = {k: v for k, v in status.items() if k in self._fields}
        vals.update(
            {
                "last_seen": max(seen, rec.last_seen) if rec.last_seen else seen,
                "status_count": rec.status_count + 1,
                "cache_age_seconds": status["cache_age_seconds"] or 0.0,
            }
        )
        rec.write(vals)
        return rec

    # ------------------------------------------------------------------ alerts (mfg.backend.alert)
    @api.model
    def _mfg_alerts(self, backend, now):
        """Alerts of ``backend``'s active agents: silent longer than ``edge_silent_seconds``,
        spool deeper than ``edge_spool_depth_max``, oldest spooled message older than
        ``edge_spool_age_seconds`` (0 turns a check off)."""
        agents = self.sudo().search([("backend_id", "=", backend.id)])
        if not agents:
            return []
        checks = []
        if backend.edge_silent_seconds:
            silent = agents.filtered(lambda a: a._mfg_silent(now))
            checks.append(
                (
                    "edge_silent",
                    "danger",
                    silent,
                    self.env._(
                        "%(n)s edge agent(s) of %(backend)s not heard from for more than %(s)s s: %(names)s",
                        n=len(silent),
                        backend=backend.name,
                        s=backend.edge_silent_seconds,
                        names=", ".join(silent[:10].mapped("name")) + (", …" if len(silent) > 10 else ""),
                    ),
                )
            )
        if backend.edge_spool_depth_max:
            deep = agents.filtered(lambda a: a.online and a.spool_depth > backend.edge_spool_depth_max)
            checks.append(
                (
                    "edge_spool_depth",
                    "warning",
                    deep,
                    self.env._(
                        "%(n)s edge agent(s) of %(backend)s hold more than %(max)s spooled messages "
                        "(the most: %(depth)s): their link to the centre is down or slow",
                        n=len(deep),
                        backend=backend.name,
                        max=backend.edge_spool_depth_max,
                        depth=max(deep.mapped("spool_depth") or [0]),
                    ),
                )
            )
        if backend.edge_spool_age_seconds:
            limit = now - timedelta(seconds=backend.edge_spool_age_seconds)
            old = agents.filtered(lambda a: a.online and a.spool_oldest_at and a.spool_oldest_at < limit)
            oldest = min(old.mapped("spool_oldest_at")) if old else now
            checks.append(
                (
                    "edge_spool_age",
                    "danger",
                    old,
                    self.env._(
                        "%(n)s edge agent(s) of %(backend)s spool messages older than %(s)s s "
                        "(the oldest since %(oldest)s UTC)",
                        n=len(old),
                        backend=backend.name,
                        s=backend.edge_spool_age_seconds,
                        oldest=oldest,
                    ),
                )
            )
        return [
            {
                "kind": kind,
                "level": level,
                "count": len(found),
                "name": name,
                "res_model": self._name,
                "domain": json.dumps([["id", "in", found.ids]]),
            }
            for kind, level, found, name in checks
            if found
        ]
