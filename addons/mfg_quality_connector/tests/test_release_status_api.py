from datetime import timedelta

from odoo import fields
from odoo.fields import Command
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestReleaseStatusApi(HttpCase):
    """GET /mfg/api/v1/<backend>/lots/<lot>/release-status through Odoo's HTTP stack."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["mfg.backend"].create(
            {"name": "Shipping", "code": "ship-1", "system_kind": "wms"}
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Panel", "default_code": "PAN-1", "is_storable": True, "tracking": "lot"}
        )
        Lot = cls.env["stock.lot"]
        cls.held = Lot.create({"name": "LOT/9", "product_id": cls.product.id})
        cls.free = Lot.create({"name": "F-1", "product_id": cls.product.id})
        cls.held._mfg_set_hold("held", "Cracks found")
        user = cls.env["res.users"].create(
            {
                "name": "Shipping service",
                "login": "ship-service",
                "groups_id": [Command.set([cls.env.ref("mfg_integration_base.group_mfg_service").id])],
            }
        )
        cls.backend.service_user_id = user  # service users linked to no backend are refused
        expiry = fields.Datetime.now() + timedelta(days=1)
        cls.key = cls.env["res.users.apikeys"].with_user(user)._generate(None, "ship", expiry)

    def _get(self, lot, product="PAN-1", key=None, backend="ship-1"):
        url = f"/mfg/api/v1/{backend}/lots/{lot}/release-status"
        if product:
            url += f"?product={product}"
        headers = {} if key is False else {"Authorization": f"Bearer {key or self.key}"}
        return self.url_open(url, headers=headers, timeout=30)

    def test_release_status(self):
        resp = self._get("LOT/9")
        self.assertEqual(resp.status_code, 200, resp.text)
        body = resp.json()
        self.assertEqual(
            (body["lot"], body["product"], body["status"], body["held"]), ("LOT/9", "PAN-1", "held", True)
        )
        self.assertEqual(body["reason"], "Cracks found")
        self.assertTrue(body["since"])
        resp = self._get("F-1", product=None)
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.json()["status"], "released")
        self.held._mfg_set_hold("released", "Reworked")
        body = self._get("LOT/9").json()
        self.assertEqual((body["status"], body["reason"]), ("released", "Reworked"))

    def test_errors(self):
        self.assertEqual(self._get("NOPE").status_code, 404)
        self.assertIn("NOPE", self._get("NOPE").json()["detail"])
        self.assertEqual(self._get("LOT/9", product="UNKNOWN").status_code, 404)
        self.assertEqual(self._get("LOT/9", backend="nobody").status_code, 404)
        self.assertEqual(self._get("LOT/9", key=False).status_code, 401)
        self.assertEqual(self._get("LOT/9", key="wrong").status_code, 401)
