from odoo.tests import tagged

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesMessagesButton(MfgMesCase):
    """The "Integration messages" button of a manufacturing order lists what the MES exchanged
    about it: the release sent, the reports applied to it."""

    def test_mo_counts_and_opens_its_messages(self):
        mo = self._mo()
        other = self._mo()
        release = self._outbound("work_order_release", key=mo.name)
        self.assertEqual(len(release), 1)
        consumption = self._receive(
            "material_consumption", self._consumption("c-btn", mo, ("RES-1", 1, "kg"))
        )
        self._drain()
        self.assertDone(consumption)
        self.assertEqual(mo.mfg_message_count, 2)
        self.assertEqual(other.mfg_message_count, 1, "its own release only")
        action = mo.action_view_mfg_messages()
        self.assertEqual(action["res_model"], "mfg.message")
        self.assertIn(mo.name, action["name"])
        self.assertEqual(self.env["mfg.message"].search(action["domain"]), release | consumption)
        # a change order is about the same MO
        mo.write({"product_qty": 12})
        mo.invalidate_recordset(["mfg_message_count"])
        self.assertEqual(mo.mfg_message_count, 3)
