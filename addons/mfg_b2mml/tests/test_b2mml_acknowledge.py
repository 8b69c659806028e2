import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.lib import contract

from ..lib import b2mml_out, b2mml_xsd
from .common import B2mmlCase, document

V0401 = "http://www.wbf.org/xml/B2MML-V0401"


@tagged("post_install", "-at_install")
class TestB2mmlAcknowledge(B2mmlCase):
    """Backend option 'Acknowledge Process documents': an inbound Process<Noun> document that is
    read (Accepted) or refused (Rejected) is answered with Acknowledge<Noun> through the outbox,
    on the backend's b2mml.acknowledge flow."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ack_type = cls.env.ref("mfg_b2mml.exchange_type_b2mml_acknowledge")
        cls.ack_flow = cls.env["mfg.backend.flow"].create(
            {"backend_id": cls.backend.id, "exchange_type_id": cls.ack_type.id, "wire_format": "b2mml"}
        )
        cls.backend.b2mml_acknowledge = True

    def _acks(self):
        return self.env["mfg.message"].search(
            [("exchange_type_id", "=", self.ack_type.id), ("direction", "=", "outbound")]
        )

    def _process_doc(self, mo, bod_id="MES-L1-0001", qty="4"):
        return document("v0700_process_operations_performance.xml", MO=mo.name, BODID=bod_id, QTY=qty)

    def _ack_xml(self, ack):
        body, content_type = ack._mfg_wire_body()
        self.assertEqual(content_type, "application/xml")
        return body, etree.fromstring(body)

    def test_accepted_document_is_acknowledged_once(self):
        mo = self._mo(qty=4)
        raw = self._process_doc(mo)
        doc = self._receive_doc(raw)
        self._drain_all()
        self.assertDone(doc)
        self.assertEqual(mo.state, "done")
        (ack,) = self._acks()
        data = json.loads(ack.payload)
        contract.validate(self.ack_type.json_schema, data)  # the canonical payload keeps its contract
        self.assertEqual(
            (data["original_bod_id"], data["response_code"], data["facts"]), ("MES-L1-0001", "Accepted", 2)
        )
        body, root = self._ack_xml(ack)
        self.assertEqual(b2mml_xsd.errors(body), [], "valid against the V0700 XSD")
        ns = {"b": b2mml_out.V0700}
        self.assertEqual(root.tag, f"{{{b2mml_out.V0700}}}AcknowledgeOperationsPerformance")
        self.assertEqual(root.findtext("b:ApplicationArea/b:BODID", namespaces=ns), data["message_id"])
        acknowledge = root.find("b:DataArea/b:Acknowledge", ns)
        self.assertEqual(
            acknowledge.findtext("b:OriginalApplicationArea/b:BODID", namespaces=ns), "MES-L1-0001"
        )
        self.assertEqual(
            acknowledge.findtext("b:OriginalApplicationArea/b:CreationDateTime", namespaces=ns),
            "2026-03-04T07:30:00Z",
        )
        expression = acknowledge.find("b:ResponseCriteria/b:ResponseExpression", ns)
        self.assertEqual(expression.get("actionCode"), "Accepted")
        self.assertEqual(
            acknowledge.findtext("b:ResponseCriteria/b:ChangeStatus/b:Code", namespaces=ns), "Accepted"
        )
        self.assertEqual(
            root.findtext("b:DataArea/b:OperationsPerformance/b:ID", namespaces=ns), "OP-PERF-77"
        )
        # the same document delivered again: nothing applied twice, no second acknowledgement
        again = self._receive_doc(raw)
        self._drain_all()
        self.assertDone(again)
        self.assertFalse(again.child_ids)
        self.assertEqual(self._acks(), ack)

    def test_acknowledgement_goes_out_through_the_outbox_on_the_flows_transport(self):
        """The acknowledgement is an outbound message like any other: queued in the drain's
        transaction, sent by the outbound drain on its flow's transport (here HTTP)."""
        received = []

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.backend.http_url = f"http://127.0.0.1:{server.server_address[1]}/mes"
        self.ack_flow.transport = "http"
        mo = self._mo(qty=4)
        doc = self._receive_doc(self._process_doc(mo, bod_id="MES-L1-0003"))
        self._drain_all()
        self.assertDone(doc)
        (ack,) = self._acks()
        self.assertEqual((ack.transport, ack.external_id), ("http", "MES-L1-0003"))
        self._drain_all("outbound")
        ack.invalidate_recordset()
        self.assertEqual(ack.state, "done", ack.error_message)
        acks = [(h, b) for h, b in received if h.get("X-Mfg-Exchange-Type") == "b2mml.acknowledge.v1"]
        self.assertEqual(len(acks), 1)
        headers, body = acks[0]
        self.assertEqual(headers["Content-Type"], "application/xml")
        self.assertIn(b"<BODID>MES-L1-0003</BODID>", body)
        self.assertIn(b'actionCode="Accepted"', body)

    def test_rejected_document_is_acknowledged_with_the_reason(self):
        mo = self._mo(qty=4)
        raw = self._process_doc(mo, bod_id="MES-L1-0002", qty="4,5 pcs")
        doc = self._receive_doc(raw)
        self._drain_all()
        doc.invalidate_recordset()
        self.assertEqual(doc.state, "rejected")
        self.assertFalse(doc.child_ids)
        (ack,) = self._acks()
        data = json.loads(ack.payload)
        contract.validate(self.ack_type.json_schema, data)
        self.assertEqual((data["original_bod_id"], data["response_code"]), ("MES-L1-0002", "Rejected"))
        self.assertIn("QuantityString", data["reason"])
        body, root = self._ack_xml(ack)
        self.assertEqual(b2mml_xsd.errors(body), [])
        ns = {"b": b2mml_out.V0700}
        acknowledge = root.find("b:DataArea/b:Acknowledge", ns)
        self.assertEqual(
            acknowledge.findtext("b:OriginalApplicationArea/b:BODID", namespaces=ns), "MES-L1-0002"
        )
        self.assertEqual(
            acknowledge.find("b:ResponseCriteria/b:ResponseExpression", ns).get("actionCode"), "Rejected"
        )
        description = acknowledge.findtext("b:ResponseCriteria/b:ChangeStatus/b:Description", namespaces=ns)
        self.assertIn("'4,5 pcs'", description)
        self.assertIn("not a number", description)
        # redelivered: rejected again, still one acknowledgement
        again = self._receive_doc(raw)
        self._drain_all()
        again.invalidate_recordset()
        self.assertEqual(again.state, "rejected")
        self.assertEqual(self._acks(), ack)

    def test_older_version_is_acknowledged_in_its_own_version(self):
        mo = self._mo(qty=10)
        doc = self._receive_doc(document("v0401_process_production_performance.xml", MO=mo.name))
        self._drain_all()
        self.assertDone(doc)
        (ack,) = self._acks()
        _body, root = self._ack_xml(ack)
        self.assertEqual(root.tag, f"{{{V0401}}}AcknowledgeProductionPerformance")
        ns = {"b": V0401}
        self.assertEqual(
            root.findtext("b:DataArea/b:Acknowledge/b:OriginalApplicationArea/b:BODID", namespaces=ns),
            "ACME-0401-0001",
        )
        self.assertEqual(root.findtext("b:DataArea/b:ProductionPerformance/b:ID", namespaces=ns), "PERF-4711")

    def test_no_acknowledgement_when_the_option_is_off_or_the_verb_is_sync(self):
        self.backend.b2mml_acknowledge = False
        mo = self._mo(qty=4)
        doc = self._receive_doc(self._process_doc(mo))
        bad = self._receive_doc(self._process_doc(mo, bod_id="MES-L1-0009", qty="x"))
        self._drain_all()
        self.assertDone(doc)
        bad.invalidate_recordset()
        self.assertEqual(bad.state, "rejected")
        self.assertFalse(self._acks())
        # on: a Sync document asks for no acknowledgement
        self.backend.b2mml_acknowledge = True
        mo2 = self._mo(qty=10)
        sync = self._receive_doc(document("v0700_sync_operations_performance.xml", MO=mo2.name))
        self._drain_all()
        self.assertDone(sync)
        self.assertFalse(self._acks())

    def test_missing_acknowledgement_flow_is_named(self):
        self.ack_flow.active = False
        mo = self._mo(qty=4)
        # (the rejected one first: a failed document holds the later documents of its flow)
        bad = self._receive_doc(self._process_doc(mo, bod_id="MES-L1-0008", qty="x"))
        doc = self._receive_doc(self._process_doc(mo))
        self._drain_all()
        self.assertFailedWith(doc, "business", "no active outbound flow b2mml.acknowledge")
        self.assertFalse(doc.child_ids, "nothing of a document that is not acknowledged is applied")
        bad.invalidate_recordset()
        self.assertEqual(bad.state, "rejected")
        self.assertIn("No acknowledgement was sent", bad.error_message)
        # the flow added back: Retry reads the document and acknowledges it
        self.ack_flow.active = True
        doc.action_retry()
        self._drain_all()
        self.assertDone(doc)
        self.assertEqual(mo.state, "done")
        self.assertEqual(len(self._acks()), 1)
