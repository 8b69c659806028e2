from odoo.tests import tagged

from .common import B2mmlCase, document


@tagged("post_install", "-at_install")
class TestB2mmlPerformance(B2mmlCase):
    """Production performance documents of three B2MML versions → MO consumption and
    completion, exact to the unit, lots included."""

    def _housing(self, mo):
        return mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_lot)

    def _resin(self, mo):
        return mo.move_raw_ids.filtered(lambda m: m.product_id == self.comp_kg)

    def test_v0401_process_production_performance(self):
        mo = self._mo(qty=10)
        raw = document("v0401_process_production_performance.xml", MO=mo.name)
        doc = self._receive_doc(raw)
        self.assertEqual(doc.wire_format, "b2mml")
        self.assertTrue(doc.payload.startswith("\ufeff<?xml"), "kept as received, byte-order mark included")
        self.assertEqual(doc.payload.encode("utf-8"), raw)
        self._drain_all()
        self.assertDone(doc)
        facts = self._facts(doc)
        self.assertEqual(
            [f.exchange_type_id.code for f in facts],
            ["mes.material_consumption"] * 3 + ["mes.production_completion"],
        )
        self.assertEqual(facts.mapped("document_position"), [1, 2, 3, 4])
        self.assertEqual(facts.mapped("external_id"), [f"ACME-0401-0001#{i}" for i in range(1, 5)])
        self.assertEqual(set(facts.mapped("ordering_key")), {mo.name})
        self.assertDone(*facts)
        first = self._payload(facts[0])
        self.assertEqual(
            first,
            {
                "message_id": "ACME-0401-0001#1",
                "sent_at": "2026-03-01T10:14:00Z",
                "work_order": mo.name,
                "lines": [{"component": "HOUS-1", "quantity": 6, "uom": "Units", "lot": "HL-1"}],
            },
        )
        self.assertEqual(mo.state, "done")
        self.assertEqual(mo.qty_produced, 10)
        self.assertEqual(mo.lot_producing_id.name, "PL-0401")
        self.assertEqual(self._housing(mo).quantity, 10, "6 + 4 consumed")
        self.assertEqual(self._housing(mo).move_line_ids.lot_id, self.lot_c1)
        self.assertAlmostEqual(self._resin(mo).quantity, 5.25, places=6)
        self.assertEqual(self.finished.with_context(lot_id=mo.lot_producing_id.id).qty_available, 10)
        # The same document again (redelivered, no transport id): stored, decoded, nothing twice.
        again = self._receive_doc(raw)
        self._drain_all()
        self.assertDone(again)
        self.assertFalse(again.child_ids, "every fact is already stored: none twice")
        self.assertEqual(self._housing(mo).quantity, 10)

    def test_v0600_sync_production_performance_two_lots(self):
        mo = self._mo(qty=10)
        doc = self._receive_doc(document("v0600_sync_production_performance.xml", MO=mo.name))
        self._drain_all()
        self.assertDone(doc)
        facts = self._facts(doc)
        self.assertEqual(len(facts), 6)
        self.assertDone(*facts)
        self.assertEqual(self._payload(facts[2])["final"], False, "vendor property LastPortion=false")
        self.assertEqual(self._payload(facts[5])["final"], True, "SegmentState Completed")
        self.assertEqual(self._payload(facts[0])["sent_at"], "2026-03-02T08:00:00+01:00")
        self.assertEqual(mo.state, "done")
        self.assertEqual(mo.qty_produced, 4)
        self.assertEqual(mo.lot_producing_id.name, "PL-A")
        # The MES connector books a consumption reported after a completion on the order it
        # names (the done one): what the MES consumed in total is there, exact to the unit.
        self.assertEqual(self._housing(mo).quantity, 10)
        self.assertEqual(self._housing(mo).move_line_ids.lot_id, self.lot_c1)
        self.assertAlmostEqual(self._resin(mo).quantity, 5, places=6)
        backorder = mo.procurement_group_id.mrp_production_ids - mo
        self.assertEqual(len(backorder), 1)
        self.assertEqual(backorder.state, "done")
        self.assertEqual(backorder.qty_produced, 6)
        self.assertEqual(backorder.lot_producing_id.name, "PL-B")
        self.assertEqual(self.finished.qty_available, 10)

    def test_v0700_sync_operations_performance_scrap_and_units(self):
        mo = self._mo(qty=10)
        doc = self._receive_doc(document("v0700_sync_operations_performance.xml", MO=mo.name))
        self._drain_all()
        self.assertDone(doc)
        facts = self._facts(doc)
        self.assertEqual(
            [f.exchange_type_id.code for f in facts],
            [
                "mes.material_consumption",
                "mes.material_consumption",
                "mes.scrap",
                "mes.production_completion",
            ],
        )
        self.assertTrue(facts[0].external_id.startswith("sha256:"), "no BODID: the bytes name the document")
        self.assertDone(*facts)
        self.assertEqual(self._payload(facts[2])["reason"], "DMG")
        self.assertEqual(mo.state, "done")
        self.assertEqual(mo.qty_produced, 10)
        self.assertEqual(mo.lot_producing_id.name, "PL-0700")
        self.assertAlmostEqual(self._resin(mo).quantity, 5.2, places=6, msg="5200 g booked as 5.2 kg")
        scrap = self.env["stock.scrap"].search([("product_id", "=", self.comp_lot.id)])
        self.assertEqual(scrap.scrap_qty, 1)
        self.assertEqual(scrap.lot_id, self.lot_c1)
        self.assertEqual(
            self.comp_lot.with_context(lot_id=self.lot_c1.id, location=self.stock.id).qty_available, 89
        )

    def test_unknown_material_use_fails_naming_the_value(self):
        mo = self._mo(qty=10)
        raw = document("v0700_sync_operations_performance.xml", MO=mo.name).replace(
            b"<MaterialUse>Scrapped</MaterialUse>", b"<MaterialUse>Sampled</MaterialUse>"
        )
        doc = self._receive_doc(raw)
        self._drain_all()
        self.assertFailedWith(doc, "business", r"MaterialUse\[?\d*\]?.*'Sampled'")
        self.assertIn("/SyncOperationsPerformance/DataArea/OperationsPerformance", doc.error_message)
        self.assertFalse(doc.child_ids, "nothing of a failed document is applied")
        self.assertEqual(mo.state, "confirmed")
        # The plant's value is added to the backend's mapping: Retry decodes it again.
        self.backend.b2mml_mapping = '{"material_use": {"Sampled": "scrap"}}'
        doc.action_retry()
        self._drain_all()
        self.assertDone(doc)
        self.assertEqual(len(doc.child_ids), 4)

    def test_bad_quantity_rejected_with_xpath(self):
        mo = self._mo(qty=10)
        raw = document("v0700_sync_operations_performance.xml", MO=mo.name).replace(
            b"<QuantityString>5200</QuantityString>", b"<QuantityString>5,2 kg</QuantityString>"
        )
        doc = self._receive_doc(raw)
        self._drain_all()
        self.assertEqual(doc.state, "rejected")
        self.assertIn(
            "/SyncOperationsPerformance/DataArea/OperationsPerformance/OperationsResponse/SegmentResponse/"
            "MaterialActual[2]/Quantity/QuantityString: element <QuantityString> (value '5,2 kg'): not a number",
            doc.error_message,
        )

    def test_unknown_component_fails_with_the_code(self):
        mo = self._mo(qty=10)
        raw = document("v0700_sync_operations_performance.xml", MO=mo.name).replace(b"RES-1", b"RES-404")
        doc = self._receive_doc(raw)
        self._drain_all()
        self.assertDone(doc)
        resin_fact = self._facts(doc)[1]
        self.assertFailedWith(resin_fact, "mapping", "RES-404")
