from datetime import timedelta

from odoo import fields
from odoo.fields import Command
from odoo.tests import HttpCase, tagged
from odoo.tests.common import _find_executable

from .common import MfgTraceCase


@tagged("post_install", "-at_install")
class TestGenealogyApi(MfgTraceCase, HttpCase):
    """GET /mfg/api/v1/<backend>/lots/<lot>/genealogy through Odoo's HTTP stack, with the API
    keys of the other query APIs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ship = cls.env["mfg.backend"].create({"name": "Shipping", "code": "ship-1", "system_kind": "wms"})
        user = cls.env["res.users"].create(
            {
                "name": "Shipping service",
                "login": "ship-service",
                "groups_id": [Command.set([cls.env.ref("mfg_integration_base.group_mfg_service").id])],
            }
        )
        cls.ship.service_user_id = user
        expiry = fields.Datetime.now() + timedelta(days=1)
        cls.key = cls.env["res.users.apikeys"].with_user(user)._generate(None, "ship", expiry)

    def _get(self, lot, query="", key=None, backend="ship-1"):
        headers = {} if key is False else {"Authorization": f"Bearer {key or self.key}"}
        return self.url_open(
            f"/mfg/api/v1/{backend}/lots/{lot}/genealogy{query}", headers=headers, timeout=30
        )

    def test_genealogy_both_ways(self):
        resp = self._get("SA-2", "?product=SUB-1")
        self.assertEqual(resp.status_code, 200, resp.text)
        body = resp.json()
        self.assertEqual((body["lot"], body["product"]), ("SA-2", "SUB-1"))
        self.assertEqual(
            sorted((c["lot"], c["production"], c["quantity"]) for c in body["upstream"]["children"]),
            [("R-1", self.mo_b.name, 2.0), ("R-2", self.mo_b.name, 2.0)],
        )
        self.assertEqual([c["lot"] for c in body["downstream"]["children"]], ["SN-3"])
        body = self._get("R-1", "?direction=downstream&max_depth=1").json()
        self.assertNotIn("upstream", body)
        self.assertEqual(
            [(c["lot"], c["children"]) for c in body["downstream"]["children"]], [("SA-1", []), ("SA-2", [])]
        )

    def test_errors(self):
        self.assertEqual(self._get("SN-1", key=False).status_code, 401)
        self.assertEqual(self._get("SN-1", key="wrong").status_code, 401)
        self.assertEqual(self._get("NOPE").status_code, 404)
        self.assertEqual(self._get("SN-1", backend="nope").status_code, 404)
        resp = self._get("SN-1", "?direction=sideways")
        self.assertEqual(resp.status_code, 400)
        self.assertEqual(resp.json()["parameter"], "direction")
        resp = self._get("SN-1", "?max_depth=500")
        self.assertEqual((resp.status_code, resp.json()["parameter"]), (400, "max_depth"))
        self.assertEqual(self._get("SN-1", backend="plant-mes").status_code, 403, "another backend's key")

    def test_the_keys_own_backend_without_naming_it(self):
        headers = {"Authorization": f"Bearer {self.key}"}
        resp = self.url_open("/mfg/api/v1/lots/SA-2/genealogy?product=SUB-1", headers=headers, timeout=30)
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.json(), self._get("SA-2", "?product=SUB-1").json())
        self.assertEqual(self.url_open("/mfg/api/v1/lots/SN-1/genealogy", timeout=30).status_code, 401)
        # a key serving no backend must name one
        self.ship.service_user_id = False
        resp = self.url_open("/mfg/api/v1/lots/SN-1/genealogy", headers=headers, timeout=30)
        self.assertEqual((resp.status_code, resp.json()["error"]), (400, "backend_required"), resp.text)

    def test_throttled_like_the_other_apis(self):
        self.ship.write({"api_rate_limit": 0.001, "api_burst": 1})
        self.assertEqual(self._get("SN-1").status_code, 200)
        resp = self._get("SN-1")
        self.assertEqual(resp.status_code, 429)
        self.assertTrue(resp.headers["Retry-After"])

    def test_thread_and_evidence_pack_tour(self):
        """The buttons, the thread list and its side panel in a real browser."""
        if not _find_executable():
            self.fail("Chromium is not installed: run setup/bootstrap (it installs Debian's chromium).")
        self.env.ref("base.user_admin").groups_id += self.env.ref("mfg_integration_base.group_mfg_manager")
        self.start_tour(
            f"/odoo/action-stock.action_production_lot_form/{self.sn1.id}",
            "mfg_traceability_tour",
            login="admin",
        )
        pack = self.env["mfg.evidence.pack"].search([("lot_id", "=", self.sn1.id)])
        self.assertEqual((len(pack), pack.verify_state), (1, "valid"))
