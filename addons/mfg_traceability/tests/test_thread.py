from freezegun import freeze_time

from odoo.tests import tagged

from .common import MfgTraceCase, at, rfc3339


@tagged("post_install", "-at_install")
class TestThread(MfgTraceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ann = cls._create_user(
            "Ann Auditor", "ann", [cls.env.ref("mfg_integration_base.group_mfg_manager")]
        )

    def _quality_story(self):
        """SN-1: passes an inspection, is held and released by the QMS; a second inspection
        result names an unknown product code, fails, and Ann retries it after the mapping is added."""
        inspection = {
            "message_id": "i-1",
            "inspection_id": "INSP-1",
            "lot": "SN-1",
            "product": "FIN-1",
            "evaluated_at": rfc3339(60),
            "verdict": "pass",
            "inspector": "Q. Inspector",
            "characteristics": [
                {"characteristic": "leak rate", "value": 0.2, "unit": "ml/min", "result": "pass"}
            ],
        }
        with freeze_time(at(60)):
            self._receive("qms.inspection_result", inspection, backend=self.qms)
            self._drain(backend=self.qms)
        event = {"lot": "SN-1", "product": "FIN-1"}
        with freeze_time(at(61)):
            self._receive(
                "qms.lot_hold",
                {
                    **event,
                    "message_id": "h-1",
                    "event_at": rfc3339(61),
                    "reason": "Field complaint",
                    "requested_by": "QM Lee",
                },
                backend=self.qms,
            )
            self._drain(backend=self.qms)
        with freeze_time(at(62)):
            self._receive(
                "qms.lot_release",
                {**event, "message_id": "r-1", "event_at": rfc3339(62), "reason": "Complaint not confirmed"},
                backend=self.qms,
            )
            self._drain(backend=self.qms)
        with freeze_time(at(63)):
            recheck = self._receive(
                "qms.inspection_result",
                {
                    **inspection,
                    "message_id": "i-2",
                    "inspection_id": "INSP-2",
                    "product": "PUMP-PLANT",
                    "evaluated_at": rfc3339(63),
                },
                backend=self.qms,
            )
            self._drain(backend=self.qms)
        self.assertEqual(recheck.state, "failed", "unknown product code")
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.qms.id,
                "kind": "product",
                "external_code": "PUMP-PLANT",
                "target": f"product.product,{self.fin.id}",
            }
        )
        with freeze_time(at(64)):
            recheck.with_user(self.ann).action_retry()
            self._drain(backend=self.qms)
        self.assertDone(recheck)
        return recheck

    def test_thread_of_a_finished_serial_in_order(self):
        self._quality_story()
        trace = self.env["mfg.trace"]._mfg_build(self.sn1)
        events = trace.event_ids.sorted("sequence")
        got = [(e.event_at, e.kind, e.system, e.actor) for e in events]
        mes, qms, odoo = "Plant MES", "Plant QMS", "OdooBot"
        self.assertEqual(
            got,
            [
                (at(20), "message_out", "mes", mes),  # MO c1 released to the MES
                (at(21), "message_in", "mes", mes),  # consumption reported
                (at(22), "message_in", "mes", mes),  # completion reported
                (at(22), "consumption", "odoo", odoo),  # SA-1 consumed
                (at(22), "production", "odoo", odoo),  # SN-1 produced
                (at(50), "delivery", "odoo", odoo),  # shipped to Customer A
                (at(60), "message_in", "quality", qms),
                (at(60), "inspection", "quality", f"{qms}, Q. Inspector"),
                (at(61), "message_in", "quality", qms),
                (at(61), "message_out", "quality", qms),  # the QMS told of the hold (webhook)
                (at(61), "hold", "quality", f"{qms} (QM Lee)"),
                (at(62), "message_in", "quality", qms),
                (at(62), "message_out", "quality", qms),
                (at(62), "release", "quality", qms),
                (at(63), "message_in", "quality", qms),  # failed first, retried by Ann
                (at(63), "inspection", "quality", f"{qms}, Q. Inspector"),
                (at(64), "manual", "odoo", "Ann Auditor"),
            ],
        )
        summaries = events.mapped("summary")
        c1 = self.mo_c1.name
        self.assertIn("(erp.work_order_release.v1) to Plant MES", summaries[0])
        self.assertIn("(mes.material_consumption.v1) from Plant MES: Done", summaries[1])
        self.assertEqual(summaries[3], f"{c1} consumed 1 Units of [SUB-1] Housing, lot SA-1")
        self.assertEqual(summaries[4], f"{c1} produced 1 Units of [FIN-1] Pump, lot SN-1")
        self.assertIn("(Customer A)", summaries[5])
        self.assertEqual(summaries[7], "Inspection INSP-1: Pass")
        self.assertEqual(summaries[15], "Inspection INSP-2: Pass")
        self.assertRegex(summaries[16], r"^IN qms.inspection_result.v1 #\d+: Retry requested by Ann Auditor")
        manual = events.filtered(lambda e: e.kind == "manual")
        hold = events.filtered(lambda e: e.kind == "hold")
        self.assertEqual(hold.actor, "Plant QMS (QM Lee)", "who decided: the system and the person it names")
        self.assertIn("Field complaint", hold.summary)
        # Messages carry their raw payload; each line opens its record.
        release_msg = events.filtered(lambda e: e.kind == "message_out")[0]
        self.assertIn('"work_order"', release_msg.detail)
        action = manual.action_open()
        self.assertEqual((action["res_model"], action["res_id"]), ("mfg.message", manual.res_id))

    def test_buttons_on_lot_order_transfer_product(self):
        for record in (self.sn1, self.mo_c1, self.d1, self.fin):
            action = record.action_mfg_traceability()
            self.assertEqual(action["res_model"], "mfg.trace.event")
            trace = self.env["mfg.trace"].browse(action["domain"][0][2])
            self.assertIn(self.sn1, trace.lot_ids, record.display_name)
            self.assertTrue(self.env["mfg.trace.event"].search_count(action["domain"]))
        trace = self.env["mfg.trace"].browse(self.mo_c1.action_mfg_traceability()["domain"][0][2])
        self.assertEqual(trace.production_ids, self.mo_c1, "the MO that made SN-1 (SA-1's MO is upstream)")

    def test_nonconformance_and_its_disposition_by_a_user(self):
        with freeze_time(at(70)):
            msg = self._receive(
                "qms.nonconformance",
                {
                    "message_id": "nc-1",
                    "nonconformance_id": "NC-7",
                    "product": "FIN-1",
                    "lots": ["SN-2"],
                    "defect_code": "LEAK",
                    "severity": "minor",
                    "description": "Seal weeps under pressure",
                },
                backend=self.qms,
            )
            self._drain(backend=self.qms)
        self.assertDone(msg)
        nc = self.env["mfg.nonconformance"].search([("name", "=", "NC-7")])
        with freeze_time(at(71)):
            nc.with_user(self.ann).write({"disposition": "rework"})
            self.env.flush_all()
            self.env.cr.precommit.run()  # tracked changes are logged when the transaction commits
        events = (
            self.env["mfg.trace"]
            ._mfg_build(self.sn2)
            .event_ids.filtered(lambda e: e.kind == "nonconformance")
        )
        self.assertEqual(
            [(e.event_at, e.actor, e.res_model, e.res_id) for e in events],
            [
                (at(70), "Plant QMS", "mfg.nonconformance", nc.id),
                (at(70), "OdooBot", "mfg.nonconformance", nc.id),  # its chatter: created by the message
                (at(71), "Ann Auditor", "mfg.nonconformance", nc.id),
            ],
        )
        self.assertEqual(events[0].summary, "Nonconformance NC-7 (minor): LEAK, disposition Rework")
        self.assertRegex(events[1].summary, r"^NC-7: Created by IN qms.nonconformance.v1 #\d+\.$")
        self.assertEqual(events[2].summary, "NC-7: Disposition: Pending → Rework")
