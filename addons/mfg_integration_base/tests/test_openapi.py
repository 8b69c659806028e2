import json

from odoo.tests import HttpCase, tagged
from odoo.tools import config

from ..lib import openapi

try:
    from openapi_spec_validator import validate as validate_openapi
except ImportError:  # optional: the shape is still checked below
    validate_openapi = None


@tagged("post_install", "-at_install")
class TestOpenApi(HttpCase):
    """GET /mfg/api/v1/openapi.json and /mfg/api/v1/docs: the published contracts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etype = cls.env["mfg.exchange.type"].create(
            {
                "name": "Published contract",
                "code": "doc.sample",
                "version": 3,
                "direction": "inbound",
                "description": "A sample contract for the docs.",
                "json_schema": json.dumps(
                    {
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "$id": "urn:mfg:doc.sample.v3",
                        "type": "object",
                        "required": ["message_id", "quantity"],
                        "properties": {
                            "message_id": {"type": "string"},
                            "quantity": {"type": "number", "description": "How many <pieces>"},
                            "note": {"type": "string"},
                        },
                    }
                ),
            }
        )
        cls.outbound = cls.env["mfg.exchange.type"].create(
            {"name": "Outbound only", "code": "doc.outbound", "direction": "outbound"}
        )

    def test_openapi_document_is_valid_31(self):
        resp = self.url_open("/mfg/api/v1/openapi.json")
        self.assertEqual(resp.status_code, 200, resp.text)
        doc = resp.json()
        self.assertEqual(doc["openapi"], "3.1.0")
        self.assertIn("components", doc)
        self.assertEqual(doc["components"]["securitySchemes"]["apiKey"]["scheme"], "bearer")
        inbound = self.env["mfg.exchange.type"].search(
            [("direction", "=", "inbound"), ("code", "!=", "mfg.unroutable")]
        )
        self.assertIn(self.etype, inbound)
        for etype in inbound:
            path = f"/mfg/api/v1/{{backend}}/{etype.contract}"
            self.assertIn(path, doc["paths"], etype.contract)
            op = doc["paths"][path]["post"]
            self.assertEqual(op["x-contract-version"], etype.version)
            for status in ("200", "202", "400", "401", "403", "413", "422", "429"):
                self.assertIn(status, op["responses"], f"{etype.contract}: {status}")
        self.assertNotIn("/mfg/api/v1/{backend}/doc.outbound.v1", doc["paths"])
        self.assertIn("/mfg/api/v1/health", doc["paths"])
        schema = doc["components"]["schemas"]["doc.sample.v3"]
        self.assertEqual(schema["required"], ["message_id", "quantity"])
        self.assertIn(
            "Retry-After",
            doc["paths"]["/mfg/api/v1/{backend}/doc.sample.v3"]["post"]["responses"]["429"]["headers"],
        )
        if validate_openapi:
            validate_openapi(doc)  # raises on any violation of the OpenAPI 3.1 specification

    def test_request_body_follows_the_flows_wire_formats(self):
        """Generic: a contract whose flows take another wire format lists that format's media
        types (string body) beside, or instead of, the JSON contract."""
        item = {
            "contract": "doc.sample.v3",
            "code": "doc.sample",
            "version": 3,
            "schema": {"type": "object"},
            "json": True,
            "wire_formats": [
                {
                    "code": "xmlish",
                    "name": "Some XML",
                    "content_types": ["application/xml", "text/xml"],
                    "description": "an XML document",
                }
            ],
        }
        doc = openapi.build_document([item, {**item, "contract": "doc.other.v1", "json": False}])
        body = doc["paths"]["/mfg/api/v1/{backend}/doc.sample.v3"]["post"]["requestBody"]
        self.assertEqual(sorted(body["content"]), ["application/json", "application/xml", "text/xml"])
        self.assertEqual(body["content"]["application/xml"]["schema"]["type"], "string")
        self.assertEqual(body["content"]["application/xml"]["x-wire-format"], "xmlish")
        self.assertIn("Some XML (application/xml, text/xml)", body["description"])
        other = doc["paths"]["/mfg/api/v1/{backend}/doc.other.v1"]["post"]["requestBody"]
        self.assertEqual(sorted(other["content"]), ["application/xml", "text/xml"])
        # a contract of JSON flows only: as before
        plain = openapi.build_document([{k: v for k, v in item.items() if k != "wire_formats"}])
        body = plain["paths"]["/mfg/api/v1/{backend}/doc.sample.v3"]["post"]["requestBody"]
        self.assertEqual(
            body,
            {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/doc.sample.v3"}}},
            },
        )
        if validate_openapi:
            validate_openapi(doc)
        self.assertIn("Request body: application/json, application/xml, text/xml", openapi.render_html(doc))

    def test_docs_page_lists_contracts(self):
        resp = self.url_open("/mfg/api/v1/docs")
        self.assertEqual(resp.status_code, 200)
        self.assertIn("text/html", resp.headers["Content-Type"])
        html = resp.text
        self.assertIn("doc.sample.v3", html)
        self.assertIn("version 3", html)
        self.assertIn("A sample contract for the docs.", html)
        self.assertIn("How many &lt;pieces&gt;", html, "descriptions are escaped")
        self.assertIn("required", html)
        self.assertNotIn("doc.outbound", html)
        self.assertNotIn("<script", html)

    def test_docs_can_require_a_key(self):
        section = config.misc.setdefault("mfg_integration", {})
        section["api_docs_public"] = "0"
        try:
            self.assertEqual(self.url_open("/mfg/api/v1/openapi.json").status_code, 401)
        finally:
            section.pop("api_docs_public", None)
