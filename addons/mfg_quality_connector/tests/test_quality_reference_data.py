"""A lot's release status as retained reference data: with "Reference data (retained)" on the
erp.lot_status_changed flow (MQTT), the broker keeps each lot's latest status on
<prefix>/<plant>/quality/odoo/erp.lot_status_changed.v1/<lot> for plants that connect later
(the edge agent answers "is lot X on hold?" from it). Real Mosquitto (127.0.0.1:1883)."""

import json

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.mqtt_support import clear, retained, unique_prefix

from .common import MfgQualityCase


@tagged("post_install", "-at_install")
class TestQualityReferenceData(MfgQualityCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prefix = unique_prefix()
        cls.backend.write({"mqtt_enabled": True, "mqtt_topic_prefix": cls.prefix, "plant_code": "P1"})
        flow = cls.backend.flow_ids.filtered(lambda f: f.exchange_type_id == cls.etype_status)
        flow.write({"transport": "mqtt", "mqtt_retained": True})
        cls.topic = f"{cls.prefix}/P1/quality/odoo/erp.lot_status_changed.v1"

    def _status(self, lot_topic):
        payload, flag = retained(f"{self.topic}/#")[lot_topic]
        self.assertTrue(flag)
        return json.loads(payload)

    def test_hold_then_release_replaces_the_retained_status(self):
        lot_topic = f"{self.topic}/L-100"
        self.addCleanup(clear, lot_topic)
        self.lot._mfg_set_hold("held", "Suspect resin")
        self._drain_all("outbound")
        self.assertDone(self._outbound(self.etype_status))
        held = self._status(lot_topic)
        self.assertEqual((held["lot"], held["status"], held["reason"]), ("L-100", "held", "Suspect resin"))
        self.lot._mfg_set_hold("released", "Retest passed")
        self._drain_all("outbound")
        released = self._status(lot_topic)
        self.assertEqual((released["lot"], released["status"]), ("L-100", "released"))
        self.assertEqual(list(retained(f"{self.topic}/#")), [lot_topic], "one retained status per lot")
