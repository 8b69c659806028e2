import json
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import MfgPipelineCase


@tagged("post_install", "-at_install")
class TestMonitoring(MfgPipelineCase):
    def _history(self, backend, per_hour, hours_ago_from, hours_ago_to, state="done", direction="inbound"):
        """``per_hour`` messages an hour, from ``hours_ago_from`` to ``hours_ago_to`` hours ago."""
        self.env.flush_all()
        now = fields.Datetime.now()
        self.env.cr.execute(
            """
            INSERT INTO mfg_message (direction, backend_id, exchange_type_id, company_id, state, payload,
                                     received_at, processed_at, name, attempts, transport)
            SELECT %(dir)s, %(b)s, %(t)s, %(c)s, %(state)s, '{}',
                   %(now)s - make_interval(hours => h) + make_interval(secs => s * (3600.0 / %(n)s)),
                   %(now)s - make_interval(hours => h) + make_interval(secs => s * (3600.0 / %(n)s)),
                   'hist', 1, 'test'
              FROM generate_series(%(to)s + 1, %(from)s) AS h, generate_series(0, %(n)s - 1) AS s
            """,
            {
                "dir": direction,
                "b": backend.id,
                "t": (self.etype_in if direction == "inbound" else self.etype_out).id,
                "c": backend.company_id.id,
                "state": state,
                "now": now,
                "n": per_hour,
                "from": hours_ago_from,
                "to": hours_ago_to,
            },
        )
        self.env.invalidate_all()

    def _alerts(self, backend):
        backend._mfg_monitor()
        return {a.kind: a for a in backend.alert_ids}

    def test_a_flow_that_goes_quiet_is_flagged_with_its_numbers(self):
        self._history(self.backend, 10, 24 * 7 + 1, 1)  # 10 an hour for a week, nothing the last hour
        alerts = self._alerts(self.backend)
        self.assertEqual(set(alerts), {"quiet"})
        self.assertEqual(
            alerts["quiet"].name, "test.order_report.v1 went quiet: 0 in the last hour, normally 10.0 an hour"
        )
        self.assertEqual(alerts["quiet"].level, "warning")

    def test_normal_traffic_raises_nothing(self):
        self._history(self.backend, 10, 24 * 7 + 1, 0)
        self.assertEqual(self._alerts(self.backend), {})

    def test_an_error_burst_is_flagged_and_opens_the_failures(self):
        self._history(self.backend, 10, 24 * 7 + 1, 1)
        self._history(self.backend, 4, 1, 0)
        self._history(self.backend, 8, 1, 0, state="failed")
        alerts = self._alerts(self.backend)
        self.assertEqual(set(alerts), {"errors"})
        self.assertEqual(
            alerts["errors"].name,
            "test.order_report.v1 failing: 67% of the last hour's messages (8 of 12), normally 0.0%",
        )
        action = alerts["errors"].action_open()
        found = self.env[action["res_model"]].search(action["domain"])
        self.assertEqual((len(found), set(found.mapped("state"))), (8, {"failed"}))

    def test_a_surge_is_information(self):
        self._history(self.backend, 2, 24 * 7 + 1, 1)
        self._history(self.backend, 60, 1, 0)
        self.assertEqual(self._alerts(self.backend)["surge"].level, "info")

    def test_a_new_flow_has_no_normal_to_surge_from(self):
        self._history(self.backend, 60, 1, 0)
        self.assertNotIn("surge", self._alerts(self.backend))

    def test_backlog_past_sla_and_undelivered_outbound(self):
        self.etype_in.sla_minutes = 30
        self._history(self.backend, 3, 3, 2, state="queued")  # 3 queued, 2 to 3 hours old
        self._history(self.backend, 2, 1, 0, state="dead", direction="outbound")
        alerts = self._alerts(self.backend)
        self.assertEqual(set(alerts), {"backlog", "outbound_failed"})
        self.assertEqual(alerts["backlog"].count, 3)
        self.assertEqual(alerts["backlog"].level, "danger", "older than 4 x the SLA")
        self.assertRegex(alerts["backlog"].name, r"^3 test.order_report.v1 pending past their SLA of 30 min")
        self.assertEqual(alerts["outbound_failed"].count, 2)
        domain = json.loads(alerts["outbound_failed"].domain)
        self.assertEqual(len(self.env["mfg.message"].search(domain)), 2)
        # the dashboard card shows them, and done today vs yesterday
        self.assertEqual(self.backend.alert_count, 2)
        self._history(self.backend, 5, 30, 29)
        today = fields.Datetime.to_datetime(fields.Date.context_today(self.backend))
        expected = self.env["mfg.message"].search_count(
            [
                ("backend_id", "=", self.backend.id),
                ("state", "=", "done"),
                ("processed_at", ">=", today - timedelta(days=1)),
                ("processed_at", "<", today),
            ]
        )
        self.backend.invalidate_recordset(["count_done_yesterday"])
        self.assertEqual(self.backend.count_done_yesterday, expected)
