from odoo.tests import tagged

from .common import B2mmlCase, document


@tagged("post_install", "-at_install")
class TestB2mmlXsdInbound(B2mmlCase):
    """Backend option 'Validate inbound B2MML against the XSD' (off by default): a document is
    checked against the shipped schema of the version its namespace names before it is read."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.b2mml_validate_inbound = True

    def test_valid_v0700_document_is_read(self):
        mo = self._mo(qty=4)
        doc = self._receive_doc(
            document("v0700_process_operations_performance.xml", MO=mo.name, BODID="X-1", QTY="4")
        )
        self._drain_all()
        self.assertDone(doc, *doc.child_ids)
        self.assertEqual(len(doc.child_ids), 2)
        self.assertEqual(mo.state, "done")

    def test_invalid_document_is_rejected_naming_line_element_and_schema_message(self):
        mo = self._mo(qty=10)
        raw = document("v0700_sync_operations_performance.xml", MO=mo.name)
        doc = self._receive_doc(raw)
        self._drain_all()
        doc.invalidate_recordset()
        self.assertEqual(doc.state, "rejected")
        self.assertFalse(doc.child_ids, "nothing of an invalid document is read")
        self.assertEqual(mo.state, "confirmed")
        # 'Scrapped' is this hub's default MaterialUse for scrap, but not one of V0700's values
        self.assertIn("not valid against the B2MML V0700 XSD (1 error(s))", doc.error_message)
        self.assertIn(
            "line 43, /SyncOperationsPerformance/DataArea/OperationsPerformance/OperationsResponse/"
            "SegmentResponse/MaterialActual[3]/MaterialUse: element <MaterialUse>: ",
            doc.error_message,
        )
        self.assertIn("The value 'Scrapped' is not an element of the set", doc.error_message)
        self.assertEqual(
            doc.error_path,
            "/SyncOperationsPerformance/DataArea/OperationsPerformance/OperationsResponse/SegmentResponse/"
            "MaterialActual[3]/MaterialUse",
        )
        # the same document on a backend that does not validate is read leniently
        self.backend.b2mml_validate_inbound = False
        again = self._receive_doc(raw)
        self._drain_all()
        self.assertDone(again)
        self.assertEqual(len(again.child_ids), 4)
        self.assertEqual(mo.state, "done")

    def test_version_without_shipped_schema_fails_saying_so(self):
        mo = self._mo(qty=10)
        doc = self._receive_doc(document("v0401_process_production_performance.xml", MO=mo.name))
        self._drain_all()
        self.assertFailedWith(
            doc,
            "business",
            r"no B2MML schema ships for namespace 'http://www.wbf.org/xml/B2MML-V0401' "
            r"\(shipped: V0700 http://www.mesa.org/xml/B2MML\).*Clear 'Validate inbound B2MML against the XSD'",
        )
        self.assertFalse(doc.child_ids)
        self.backend.b2mml_validate_inbound = False
        doc.action_retry()
        self._drain_all()
        self.assertDone(doc, *doc.child_ids)
        self.assertEqual(mo.state, "done")
