"""Business-level monitoring of the plants' flows: alerts with a drill-down, recomputed by a
cron every 5 minutes (and by *Refresh* on the dashboard).

Alerts of the base (connectors add theirs by extending ``_mfg_monitor_alerts``):
- ``backlog``: messages pending longer than their exchange type's SLA;
- ``outbound_failed``: outbound messages (acknowledgements, releases, webhooks) that failed or
  died: the plant system does not know what Odoo decided;
- ``quiet`` / ``surge`` (anomaly): a flow's messages (one exchange type on the backend) of the
  last hour against its normal, the hourly mean and standard deviation over the 7 days before. Quiet: the mean is at least
  ``MIN_MEAN`` an hour and the last hour had less than a fifth of it. Surge: more than twice the
  mean and more than mean + 4 standard deviations, for a flow with a history (``MIN_HISTORY``);
- ``errors`` (anomaly): a flow's failure ratio in the last hour is at least ``MIN_FAILURES``
  failures and above 3 × its 7-day ratio + 5 points;
- ``edge_silent`` / ``edge_spool_depth`` / ``edge_spool_age``: the backend's plant edge agents
  (mfg_edge_agent.py ``_mfg_alerts``): not heard from, or spooling too much for too long.
Deterministic, explainable, no external service: each alert says the numbers it compared.
"""

import json
import math
from datetime import timedelta

from odoo import api, fields, models

from ..pipeline.states import PENDING_STATES

MIN_MEAN = 5.0  # messages an hour before a flow can be "quiet"
MIN_FAILURES = 5
MIN_HISTORY = 24  # messages in the 7 days before a flow can "surge" (a new flow has no normal yet)
BASELINE_DAYS = 7


class MfgBackendAlert(models.Model):
    _name = "mfg.backend.alert"
    _description = "Integration Alert"
    _order = "level_sequence, backend_id, id"

    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    exchange_type_id = fields.Many2one("mfg.exchange.type", string="Exchange type", ondelete="cascade")
    kind = fields.Char(required=True)
    level = fields.Selection(
        [("danger", "Act now"), ("warning", "Watch"), ("info", "Information")], required=True
    )
    level_sequence = fields.Integer(compute="_compute_level_sequence", store=True)
    name = fields.Char(string="Alert", required=True)
    count = fields.Integer()
    res_model = fields.Char(required=True, default="mfg.message")
    domain = fields.Char(required=True, default="[]")
    detected_at = fields.Datetime(default=fields.Datetime.now, required=True)
    color = fields.Integer(compute="_compute_color")

    @api.depends("level")
    def _compute_level_sequence(self):
        order = {"danger": 1, "warning": 2, "info": 3}
        for alert in self:
            alert.level_sequence = order.get(alert.level, 9)

    @api.depends("level")
    def _compute_color(self):
        colors = {"danger": 1, "warning": 3, "info": 10}  # red, yellow, green tags
        for alert in self:
            alert.color = colors.get(alert.level, 0)

    def action_open(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": self.res_model,
            "view_mode": "list,form",
            "domain": json.loads(self.domain),
            "context": {},
        }

    # ------------------------------------------------------------------ alert sources
    @api.model
    def _mfg_alerts_for(self, backend, now):
        """Extension point: the alerts of ``backend`` now, a list of dicts (kind, level, name,
        count, res_model, domain as a JSON list, exchange_type_id). Connectors add theirs."""
        return (
            self._mfg_alerts_backlog(backend, now)
            + self._mfg_alerts_outbound(backend)
            + self._mfg_alerts_anomalies(backend, now)
            + self.env["mfg.edge.agent"]._mfg_alerts(backend, now)
        )

    @api.model
    def _mfg_alerts_backlog(self, backend, now):
        alerts = []
        self.env.cr.execute(
            """SELECT t.id, count(*), min(m.received_at), t.sla_minutes
                 FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
                WHERE m.backend_id = %s AND m.state IN %s AND t.sla_minutes > 0
                  AND m.received_at <= %s - make_interval(mins => t.sla_minutes)
                GROUP BY t.id, t.sla_minutes""",
            (backend.id, PENDING_STATES, now),
        )
        for type_id, count, oldest, sla in self.env.cr.fetchall():
            etype = self.env["mfg.exchange.type"].browse(type_id)
            minutes = int((now - oldest).total_seconds() // 60)
            alerts.append(
                {
                    "kind": "backlog",
                    "level": "danger" if minutes >= 4 * sla else "warning",
                    "exchange_type_id": type_id,
                    "count": count,
                    "name": self.env._(
                        "%(n)s %(type)s pending past their SLA of %(sla)s min (oldest %(age)s min)",
                        n=count,
                        type=etype.contract,
                        sla=sla,
                        age=minutes,
                    ),
                    "domain": json.dumps(
                        [
                            ["backend_id", "=", backend.id],
                            ["exchange_type_id", "=", type_id],
                            ["state", "in", list(PENDING_STATES)],
                            ["received_at", "<=", fields.Datetime.to_string(now - timedelta(minutes=sla))],
                        ]
                    ),
                }
            )
        return alerts

    @api.model
    def _mfg_alerts_outbound(self, backend):
        alerts = []
        self.env.cr.execute(
            """SELECT exchange_type_id, count(*) FROM mfg_message
                WHERE backend_id = %s AND direction = 'outbound' AND state IN ('failed', 'dead')
                GROUP BY exchange_type_id""",
            (backend.id,),
        )
        for type_id, count in self.env.cr.fetchall():
            etype = self.env["mfg.exchange.type"].browse(type_id)
            alerts.append(
                {
                    "kind": "outbound_failed",
                    "level": "danger",
                    "exchange_type_id": type_id,
                    "count": count,
                    "name": self.env._(
                        "%(n)s %(type)s not delivered to %(system)s: it does not know what Odoo decided",
                        n=count,
                        type=etype.contract,
                        system=backend.name,
                    ),
                    "domain": json.dumps(
                        [
                            ["backend_id", "=", backend.id],
                            ["exchange_type_id", "=", type_id],
                            ["direction", "=", "outbound"],
                            ["state", "in", ["failed", "dead"]],
                        ]
                    ),
                }
            )
        return alerts

    @api.model
    def _mfg_alerts_anomalies(self, backend, now):
        """Per flow: the last hour against the hourly normal of the 7 days before."""
        hour = now - timedelta(hours=1)
        start = hour - timedelta(days=BASELINE_DAYS)
        self.env.cr.execute(
            """
            WITH hours AS (
                SELECT m.exchange_type_id, date_trunc('hour', m.received_at) AS h, count(*) AS n,
                       count(*) FILTER (WHERE m.state IN ('failed', 'dead')) AS f
                  FROM mfg_message m
                 WHERE m.backend_id = %(b)s AND m.direction = 'inbound'
                   AND m.received_at >= %(start)s AND m.received_at < %(hour)s
                 GROUP BY 1, 2
            ), last AS (
                SELECT exchange_type_id, count(*) AS n,
                       count(*) FILTER (WHERE state IN ('failed', 'dead')) AS f
                  FROM mfg_message
                 WHERE backend_id = %(b)s AND direction = 'inbound' AND received_at >= %(hour)s
                 GROUP BY 1
            )
            SELECT coalesce(h.exchange_type_id, l.exchange_type_id),
                   coalesce(h.total, 0), coalesce(h.sumsq, 0), coalesce(h.failed, 0),
                   coalesce(l.n, 0), coalesce(l.f, 0)
              FROM (SELECT exchange_type_id, sum(n) AS total, sum(n * n) AS sumsq, sum(f) AS failed
                      FROM hours GROUP BY 1) h
              FULL JOIN last l ON l.exchange_type_id = h.exchange_type_id
            """,
            {"b": backend.id, "start": start, "hour": hour},
        )
        slots = BASELINE_DAYS * 24
        alerts = []
        for type_id, total, sumsq, failed, last_n, last_f in self.env.cr.fetchall():
            etype = self.env["mfg.exchange.type"].browse(type_id)
            mean = total / slots
            std = math.sqrt(max(sumsq / slots - mean * mean, 0.0))
            recent = json.dumps(
                [
                    ["backend_id", "=", backend.id],
                    ["exchange_type_id", "=", type_id],
                    ["received_at", ">=", fields.Datetime.to_string(hour)],
                ]
            )
            base = {"exchange_type_id": type_id, "res_model": "mfg.message"}
            if mean >= MIN_MEAN and last_n < mean / 5:
                alerts.append(
                    {
                        **base,
                        "kind": "quiet",
                        "level": "warning",
                        "count": last_n,
                        "name": self.env._(
                            "%(type)s went quiet: %(n)s in the last hour, normally %(mean).1f an hour",
                            type=etype.contract,
                            n=last_n,
                            mean=mean,
                        ),
                        "domain": json.dumps(
                            [["backend_id", "=", backend.id], ["exchange_type_id", "=", type_id]]
                        ),
                    }
                )
            elif (
                total >= MIN_HISTORY and last_n > 2 * mean and last_n > mean + 4 * std and last_n >= MIN_MEAN
            ):
                alerts.append(
                    {
                        **base,
                        "kind": "surge",
                        "level": "info",
                        "count": last_n,
                        "name": self.env._(
                            "%(type)s surge: %(n)s in the last hour, normally %(mean).1f ± %(std).1f an hour",
                            type=etype.contract,
                            n=last_n,
                            mean=mean,
                            std=std,
                        ),
                        "domain": recent,
                    }
                )
            ratio = failed / total if total else 0.0
            if last_f >= MIN_FAILURES and last_n and last_f / last_n > 3 * ratio + 0.05:
                alerts.append(
                    {
                        **base,
                        "kind": "errors",
                        "level": "danger",
                        "count": last_f,
                        "name": self.env._(
                            "%(type)s failing: %(pct).0f%% of the last hour's messages (%(f)s of %(n)s), "
                            "normally %(base).1f%%",
                            type=etype.contract,
                            pct=100.0 * last_f / last_n,
                            f=last_f,
                            n=last_n,
                            base=100.0 * ratio,
                        ),
                        "domain": json.dumps(
                            [
                                ["backend_id", "=", backend.id],
                                ["exchange_type_id", "=", type_id],
                                ["received_at", ">=", fields.Datetime.to_string(hour)],
                                ["state", "in", ["failed", "dead"]],
                            ]
                        ),
                    }
                )
        return alerts
