from odoo.tests import tagged

from .common import B2mmlCase


@tagged("post_install", "-at_install")
class TestB2mmlOpenApi(B2mmlCase):
    """The REST OpenAPI document shows an application/xml request body for the contracts whose
    flows take B2MML (driven by the flows' wire format, nothing B2MML-specific in the base)."""

    def _body(self, contract):
        doc = self.env["mfg.exchange.type"].sudo()._mfg_openapi_document()
        return doc["paths"][f"/mfg/api/v1/{{backend}}/{contract}"]["post"]["requestBody"]

    def test_b2mml_flow_shows_an_xml_request_body(self):
        body = self._body("b2mml.document.v1")
        # the test plant's b2mml.document flow takes B2MML only
        self.assertEqual(sorted(body["content"]), ["application/xml", "text/xml"])
        xml = body["content"]["application/xml"]
        self.assertEqual((xml["schema"]["type"], xml["x-wire-format"]), ("string", "b2mml"))
        self.assertIn("B2MML (ISA-95) XML document", xml["schema"]["description"])
        self.assertIn("B2MML XML (ISA-95) (application/xml, text/xml)", body["description"])
        # a JSON flow stays JSON; its flow set to B2MML: XML only
        consumption = self.etype["material_consumption"]
        self.assertEqual(list(self._body(consumption.contract)["content"]), ["application/json"])
        self.backend._mfg_flow(consumption).wire_format = "b2mml"
        self.assertEqual(sorted(self._body(consumption.contract)["content"]), ["application/xml", "text/xml"])
        # another backend's flow of it still takes JSON: both are shown
        self._create_backend("Second MES", "second-mes", [consumption])
        self.assertEqual(
            sorted(self._body(consumption.contract)["content"]),
            ["application/json", "application/xml", "text/xml"],
        )
        # an inactive flow does not count
        self.backend._mfg_flow(consumption).active = False
        self.assertEqual(list(self._body(consumption.contract)["content"]), ["application/json"])
