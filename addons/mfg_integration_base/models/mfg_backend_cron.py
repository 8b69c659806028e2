"""Monitoring and housekeeping of the backends: business alerts (see mfg_backend_alert.py) and their
cron, one activity per late flow for the managers, and the retention of done messages."""

import logging
from datetime import timedelta

from odoo import api, fields, models

from ..pipeline.states import PENDING_STATES

_logger = logging.getLogger(__name__)


class MfgBackend(models.Model):
    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

    alert_ids = fields.One2many("mfg.backend.alert", "backend_id", string="Alerts")
    alert_count = fields.Integer(compute="_compute_alert_count")

    # ------------------------------------------------------------------ business alerts (see mfg_backend_alert.py)
    def _compute_alert_count(self):
        counts = dict(
            self.env["mfg.backend.alert"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.alert_count = counts.get(backend, 0)

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

    # ------------------------------------------------------------------ late messages and retention
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
