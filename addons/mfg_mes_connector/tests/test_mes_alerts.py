import json
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesAlerts(MfgMesCase):
    def test_released_orders_past_their_planned_end_without_completion(self):
        late, on_time, unreleased = self._mo(), self._mo(), self._mo()
        releases = self.Message.search(
            [
                ("backend_id", "=", self.backend.id),
                ("exchange_type_id", "=", self.etype["work_order_release"].id),
            ]
        )
        self.assertEqual(len(releases), 3, "each confirmed MO was released")
        # the MES acknowledged the releases of two of them
        releases.filtered(lambda m: m.ordering_key in (late.name, on_time.name)).write({"state": "done"})
        now = fields.Datetime.now()
        late.date_finished = now - timedelta(hours=10)
        unreleased.date_finished = now - timedelta(hours=10)
        on_time.date_finished = now + timedelta(hours=2)
        self.env.flush_all()
        alerts = self.backend._mfg_monitor().filtered(lambda a: a.kind == "late_confirmation")
        self.assertEqual(len(alerts), 1)
        self.assertEqual((alerts.count, alerts.level, alerts.res_model), (1, "danger", "mrp.production"))
        self.assertIn("1 manufacturing orders released to Test MES without a completion", alerts.name)
        action = alerts.action_open()
        self.assertEqual(self.env["mrp.production"].search(json.loads(alerts.domain)), late)
        self.assertEqual(action["res_model"], "mrp.production")
        # once closed (done or cancelled), the alert is gone
        late.action_cancel()
        self.assertFalse(self.backend._mfg_monitor().filtered(lambda a: a.kind == "late_confirmation"))
