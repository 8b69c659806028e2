from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import document


@tagged("post_install", "-at_install")
class TestB2mmlRest(HttpCase):
    """POST of B2MML XML to the REST ingest (Content-Type application/xml)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ref = cls.env.ref
        cls.doc_type = ref("mfg_b2mml.exchange_type_b2mml_document")
        cls.item_type = ref("mfg_b2mml.exchange_type_material_definition")
        cls.backend = cls.env["mfg.backend"].create(
            {
                "name": "B2MML plant",
                "code": "b2mml-plant",
                "b2mml_mapping": '{"item_policy": "create"}',
                "flow_ids": [
                    fields.Command.create({"exchange_type_id": cls.doc_type.id, "wire_format": "b2mml"}),
                    fields.Command.create({"exchange_type_id": cls.item_type.id}),
                ],
            }
        )
        cls.service_user = cls.env["res.users"].create(
            {
                "name": "MES service",
                "login": "b2mml-service",
                "groups_id": [fields.Command.set([ref("mfg_integration_base.group_mfg_service").id])],
            }
        )
        cls.backend.service_user_id = cls.service_user
        expiry = fields.Datetime.now() + timedelta(days=1)
        cls.key = cls.env["res.users.apikeys"].with_user(cls.service_user)._generate(None, "mes", expiry)

    def _post(self, body, content_type="application/xml", etype="b2mml.document", headers=None):
        hdrs = {"Content-Type": content_type, "Authorization": f"Bearer {self.key}", **(headers or {})}
        return self.url_open(f"/mfg/api/v1/b2mml-plant/{etype}", data=body, headers=hdrs, timeout=30)

    def test_xml_document_accepted_then_decoded(self):
        raw = document("v0600_sync_material_definition.xml")
        resp = self._post(raw, headers={"Idempotency-Key": "md-1"})
        self.assertEqual(resp.status_code, 202, resp.text)
        doc = self.env["mfg.message"].browse(resp.json()["id"])
        self.assertEqual((doc.state, doc.wire_format, doc.transport), ("queued", "b2mml", "rest"))
        self.assertEqual(doc.payload.encode(), raw)
        self.assertEqual(self._post(raw, headers={"Idempotency-Key": "md-1"}).status_code, 200)
        self.backend._mfg_drain("inbound", "root.mfg")
        self.backend._mfg_drain("inbound", "root.mfg")
        self.assertEqual(doc.state, "done", doc.error_message)
        self.assertEqual(doc.child_ids.mapped("state"), ["done", "done"])
        self.assertTrue(self.env["product.product"].search([("default_code", "=", "NEW-9")]))

    def test_text_xml_bad_document_is_422_and_kept(self):
        resp = self._post(b"<SyncMaterialDefinition><DataArea>", content_type="text/xml; charset=utf-8")
        self.assertEqual(resp.status_code, 422, resp.text)
        self.assertIn("not well-formed", resp.json()["errors"][0]["message"])
        doc = self.env["mfg.message"].browse(resp.json()["id"])
        self.assertEqual(doc.state, "rejected")
        self.assertEqual(doc.payload, "<SyncMaterialDefinition><DataArea>")

    def test_json_to_a_b2mml_flow_is_415(self):
        resp = self._post(b'{"a": 1}', content_type="application/json")
        self.assertEqual(resp.status_code, 415, resp.text)
        self.assertIn("b2mml", resp.json()["detail"])

    def test_xml_to_a_json_flow_says_how_to_fix(self):
        resp = self._post(document("v0600_sync_material_definition.xml"), etype="mes.material_definition")
        self.assertEqual(resp.status_code, 400, resp.text)
        self.assertIn("wire format", resp.json()["detail"])
