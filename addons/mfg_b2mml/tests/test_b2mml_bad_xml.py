import json

from lxml import etree

from odoo.tests import tagged

from ..lib import xml_safe
from .common import B2mmlCase, document

B2MML_V0700 = b'xmlns="http://www.mesa.org/xml/B2MML"'


@tagged("post_install", "-at_install")
class TestB2mmlBadXml(B2mmlCase):
    """Documents that cannot be read are rejected with the reason, nothing else is lost, no
    entity is expanded and nothing is fetched."""

    def _assert_rejected_alone(self, raw, regex):
        self.sequence = getattr(self, "sequence", 0) + 1
        good_raw = document("v0600_sync_material_definition.xml").replace(
            b"MD-0600-1", f"MD-GOOD-{self.sequence}".encode()
        )
        good = self._receive_doc(good_raw)
        bad = self._receive_doc(raw)
        count_before = self.Message.search_count([])
        self._drain_all()
        self.assertEqual(bad.state, "rejected", bad.error_message)
        self.assertEqual(bad.error_class, "validation")
        self.assertRegex(bad.error_message, regex)
        self.assertFalse(bad.child_ids)
        self.assertTrue(bad.payload, "the document is kept as received")
        self.assertDone(good)
        self.assertEqual(len(good.child_ids), 2, "the other document is decoded")
        self.assertEqual(self.Message.search_count([]), count_before + 2)
        return bad

    def test_not_well_formed(self):
        self._assert_rejected_alone(
            b'<SyncMaterialInformation xmlns="http://www.mesa.org/xml/B2MML"><DataArea>',
            "not well-formed XML",
        )

    def test_wrong_root(self):
        bad = self._assert_rejected_alone(
            b"<SyncProductionSchedule " + B2MML_V0700 + b"><DataArea/></SyncProductionSchedule>",
            r"/SyncProductionSchedule: element <SyncProductionSchedule> .*not a B2MML document this hub reads",
        )
        self.assertIn("SyncProductionPerformance", bad.error_message)
        self._assert_rejected_alone(b"<order><id>1</id></order>", "not a B2MML document")

    def test_billion_laughs(self):
        bad = self._assert_rejected_alone(document("billion_laughs.xml.hostile"), "DOCTYPE")
        self.assertLess(len(bad.error_message), 1000)

    def test_external_entities_file_and_http(self):
        for name in ("xxe_file.xml.hostile", "xxe_http.xml.hostile"):
            bad = self._assert_rejected_alone(document(name), "DOCTYPE")
            self.assertNotIn("root:", bad.error_message)
        self.assertFalse(self.Message.search([("payload", "ilike", "root:x:0:0")]))

    def test_doctype_after_a_long_comment_is_refused_too(self):
        raw = b"<!--" + b"x" * 5000 + b'-->\n<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
        raw += b"<SyncMaterialInformation " + B2MML_V0700 + b"><DataArea/></SyncMaterialInformation>"
        self._assert_rejected_alone(raw, "DOCTYPE")

    def test_50_mb_document(self):
        raw = (
            b"<SyncMaterialInformation " + B2MML_V0700 + b"><!--" + b"x" * (50 * 1024 * 1024) + b"-->"
            b"</SyncMaterialInformation>"
        )
        self._assert_rejected_alone(
            raw, r"52,428,\d+ bytes long; this backend accepts B2MML documents of at most 10,485,760"
        )

    def test_not_utf8_kept_exactly(self):
        raw = (
            b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<SyncMaterialDefinition '
            b'xmlns="http://www.mesa.org/xml/B2MML-V0600"><DataArea><MaterialDefinition><ID>HOUS-1</ID>'
            b"<Description>Geh\xe4use</Description></MaterialDefinition></DataArea></SyncMaterialDefinition>"
        )
        doc = self._receive_doc(raw)
        self.assertTrue(doc.payload.startswith("base64:"))
        self._drain_all()
        self.assertDone(doc)
        self.assertEqual(json.loads(doc.child_ids.payload)["name"], "Gehäuse")

    def test_parser_itself_expands_nothing_and_fetches_nothing(self):
        """Even past the DOCTYPE refusal, the parser replaces no entity and reads no file or URL."""
        for name in ("xxe_file.xml.hostile", "xxe_http.xml.hostile", "billion_laughs.xml.hostile"):
            try:
                root = etree.fromstring(document(name), parser=xml_safe._parser())
            except etree.XMLSyntaxError as exc:  # libxml2 refuses it (entity loop): nothing expanded
                self.assertIn("entity", str(exc))
                continue
            text = etree.tostring(root)
            self.assertNotIn(b"root:", text)
            self.assertNotIn(b"lollollol", text)
            self.assertLess(len(text), 1000)

    def test_replay_of_a_document_applies_its_facts_again(self):
        doc = self._receive_doc(document("v0600_sync_material_definition.xml"))
        self._drain_all()
        self.assertDone(doc)
        replay = doc.action_replay()
        replayed = self.Message.search([("replay_of_id", "=", doc.id)])
        self.assertTrue(replay is not None and replayed)
        self._drain_all()
        self.assertDone(replayed)
        self.assertEqual(
            replayed.child_ids.sorted("document_position").mapped("external_id"),
            [f"MD-0600-1~replay{replayed.id}#1", f"MD-0600-1~replay{replayed.id}#2"],
        )
