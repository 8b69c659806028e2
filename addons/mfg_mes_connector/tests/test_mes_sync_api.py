from datetime import timedelta

from odoo import fields
from odoo.fields import Command
from odoo.tests import HttpCase, tagged

from .common import MfgMesCase


@tagged("post_install", "-at_install")
class TestMesSyncApi(HttpCase, MfgMesCase):
    """GET /mfg/api/v1/<backend>/work-orders|materials|products/... through Odoo's HTTP stack."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        user = cls.env["res.users"].create(
            {
                "name": "MES service",
                "login": "mes-service",
                "groups_id": [Command.set([cls.env.ref("mfg_integration_base.group_mfg_service").id])],
            }
        )
        cls.backend.service_user_id = user  # service users linked to no backend are refused
        expiry = fields.Datetime.now() + timedelta(days=1)
        cls.key = cls.env["res.users.apikeys"].with_user(user)._generate(None, "mes", expiry)

    def _get(self, path, key=None, backend="test-mes"):
        headers = {} if key is False else {"Authorization": f"Bearer {key or self.key}"}
        self.env.flush_all()
        return self.url_open(f"/mfg/api/v1/{backend}/{path}", headers=headers, timeout=30)

    def _ok(self, path):
        resp = self._get(path)
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.headers["Content-Type"].split(";")[0], "application/json")
        return resp.json()

    def test_work_order_status(self):
        mo = self._mo()
        mo.workorder_ids.button_start()
        body = self._ok(f"work-orders/{mo.name}")
        self.assertEqual((body["work_order"], body["name"], body["state"]), (mo.name, mo.name, "progress"))
        self.assertEqual((body["quantity_planned"], body["quantity_produced"], body["uom"]), (10, 0, "Units"))
        self.assertEqual(body["product"], "PUMP-1")
        (op,) = body["operations"]
        self.assertEqual(
            (op["sequence"], op["name"], op["workcenter"], op["state"]),
            (mo.workorder_ids.sequence, "Assemble", "WC-1", "progress"),
        )
        self.assertEqual(body["backorders"], [])

    def test_work_order_after_partial_completion(self):
        mo = self._mo()
        reference = mo.name
        completion = self._receive("production_completion", self._completion("p-1", mo, 4, final=False))
        self._drain()
        self.assertDone(completion)
        body = self._ok(f"work-orders/{reference}")
        self.assertEqual(body["work_order"], reference)
        self.assertEqual((body["name"], body["state"], body["quantity_produced"]), (mo.name, "done", 4))
        (backorder,) = body["backorders"]
        self.assertEqual((backorder["quantity_planned"], backorder["state"]), (6, "confirmed"))

    def test_material(self):
        body = self._ok("materials/HOUS-1")
        self.assertEqual(
            (body["code"], body["resolved"], body["source"], body["name"], body["uom"], body["tracking"]),
            ("HOUS-1", True, "odoo_code", "Housing", "Units", "lot"),
        )
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "MAT-77",
                "target": f"product.product,{self.comp_kg.id}",
            }
        )
        body = self._ok("materials/MAT-77")
        self.assertEqual(
            (body["source"], body["name"], body["uom"], body["default_code"]),
            ("mapping", "Resin", "kg", "RES-1"),
        )
        resp = self._get("materials/NOPE-9")
        self.assertEqual(resp.status_code, 404)
        self.assertEqual(resp.json()["code"], "NOPE-9")
        self.assertIn("NOPE-9", resp.json()["detail"])

    def test_routing(self):
        body = self._ok("products/PUMP-1/routing")
        self.assertEqual(
            (body["product"], body["quantity"], body["uom"], body["approval_state"]),
            ("PUMP-1", 1, "Units", "draft"),
        )
        self.assertEqual(
            body["operations"], [{"sequence": 10, "name": "Assemble", "workcenter": "WC-1", "duration": 6}]
        )
        resp = self._get("products/RES-1/routing")
        self.assertEqual(resp.status_code, 404, "a purchased component has no routing")
        self.assertIn("RES-1", resp.json()["detail"])
        self.assertEqual(self._get("products/NOPE/routing").status_code, 404)

    def test_errors(self):
        mo = self._mo()
        resp = self._get("work-orders/WH/MO/99999")
        self.assertEqual(resp.status_code, 404)
        self.assertIn("WH/MO/99999", resp.json()["detail"])
        self.assertEqual(self._get(f"work-orders/{mo.name}", backend="nobody").status_code, 404)
        self.assertEqual(self._get(f"work-orders/{mo.name}", key=False).status_code, 401)
        self.assertEqual(self._get(f"work-orders/{mo.name}", key="wrong").status_code, 401)
        self.assertEqual(self._get("materials/HOUS-1", key="wrong").status_code, 401)
        self.assertEqual(self._get("products/PUMP-1/routing", key=False).status_code, 401)
