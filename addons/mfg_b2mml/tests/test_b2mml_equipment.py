from odoo.tests import tagged

from .common import B2mmlCase, document


@tagged("post_install", "-at_install")
class TestB2mmlEquipment(B2mmlCase):
    """SegmentResponse/EquipmentActual/EquipmentID is the plant's work center code: with the
    segment's ActualStartTime / ActualEndTime it becomes mes.operation_status facts (started,
    finished at the plant's times), resolved by the backend's work center code mappings."""

    def _doc(self, mo, equipment, bod_id="MES-EQ-1"):
        return document(
            "v0700_sync_operations_performance_equipment.xml", MO=mo.name, EQUIPMENT=equipment, BODID=bod_id
        )

    def test_equipment_and_times_become_operation_status_of_the_work_center(self):
        mo = self._mo(qty=4)
        workorder = mo.workorder_ids
        self.assertEqual(workorder.workcenter_id, self.workcenter)
        doc = self._receive_doc(self._doc(mo, "WC-1"))
        self._drain_all()
        self.assertDone(doc)
        facts = self._facts(doc)
        self.assertEqual(
            [(f.exchange_type_id.code, self._payload(f).get("status")) for f in facts],
            [
                ("mes.operation_status", "started"),
                ("mes.operation_status", "finished"),
                ("mes.material_consumption", None),
                ("mes.production_completion", None),
            ],
        )
        self.assertEqual(
            self._payload(facts[0]),
            {
                "message_id": "MES-EQ-1#1",
                "sent_at": "2026-03-05T07:31:00Z",
                "work_order": mo.name,
                "operation": "WC-1",
                "status": "started",
                "at": "2026-03-05T06:00:00Z",
            },
        )
        self.assertDone(*facts)
        self.assertEqual(workorder.state, "done")
        self.assertEqual(str(workorder.date_start), "2026-03-05 06:00:00")
        self.assertEqual(str(workorder.date_finished), "2026-03-05 07:30:00")
        self.assertAlmostEqual(sum(workorder.time_ids.mapped("duration")), 90)
        self.assertEqual(mo.state, "done")
        self.assertEqual(mo.qty_produced, 4)

    def test_unknown_equipment_fails_as_a_missing_mapping_then_retry(self):
        mo = self._mo(qty=4)
        doc = self._receive_doc(self._doc(mo, "LINE-9", bod_id="MES-EQ-2"))
        self._drain_all()
        self.assertDone(doc)
        facts = self._facts(doc)
        self.assertFailedWith(facts[0], "mapping", "Unknown work center code 'LINE-9'")
        self.assertEqual(mo.state, "confirmed", "the later facts of the order wait for it")
        # fixed from the incident screen: a code mapping LINE-9 → the work center, then Retry
        self.env.flush_all()
        incident = self.env["mfg.incident"].search([("signature", "=", facts[0].error_signature)])
        self.assertEqual(
            (incident.mapping_kind, incident.mapping_code, incident.can_fix_mapping),
            ("workcenter", "LINE-9", True),
        )
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "workcenter",
                "external_code": "LINE-9",
                "target": f"{self.workcenter._name},{self.workcenter.id}",
            }
        )
        facts[0].action_retry()
        self._drain_all()
        self.assertDone(*facts)
        self.assertEqual(mo.workorder_ids.state, "done")
        self.assertEqual(str(mo.workorder_ids.date_finished), "2026-03-05 07:30:00")
        self.assertEqual(mo.state, "done")

    def test_segment_status_can_be_turned_off(self):
        self.backend.b2mml_mapping = '{"segment_status": false}'
        mo = self._mo(qty=4)
        doc = self._receive_doc(self._doc(mo, "LINE-9", bod_id="MES-EQ-3"))
        self._drain_all()
        self.assertDone(doc)
        self.assertEqual(
            self._facts(doc).mapped("exchange_type_id.code"),
            ["mes.material_consumption", "mes.production_completion"],
        )
        self.assertEqual(mo.state, "done")
