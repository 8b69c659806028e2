import json
import os
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import SkipTest

from lxml import etree

from odoo.tests import new_test_user, tagged

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError
from odoo.addons.mfg_integration_base.lib.safe_files import configured_roots

from ..lib import b2mml_out, b2mml_xsd
from .common import B2mmlCase

NS = {"b": b2mml_out.V0700}


@tagged("post_install", "-at_install")
class TestB2mmlOutbound(B2mmlCase):
    """A backend whose outbound flows have wire format B2MML: the canonical JSON stays on the
    message, the transport sends the B2MML document it encodes to (kept on the message too)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for code in ("work_order_release", "work_order_change", "item_master"):
            cls.backend._mfg_flow(cls.etype[code]).wire_format = "b2mml"

    def _released(self, qty=10):
        with self._outbox_trap() as trap:
            mo = self._mo(qty=qty)
        return mo, trap.of("work_order_release")

    def test_release_is_an_operations_schedule_valid_against_the_v0700_xsd(self):
        mo, msg = self._released(qty=4)
        canonical = json.loads(msg.payload)
        body, content_type = msg._mfg_wire_body()
        self.assertEqual(content_type, "application/xml")
        # what was sent is kept beside the canonical JSON, which is unchanged
        self.assertEqual(msg.wire_payload.encode(), body)
        self.assertEqual(msg.wire_format_sent, "b2mml")
        self.assertEqual(json.loads(msg.payload), canonical)
        self.assertEqual(b2mml_xsd.errors(body), [])
        root = etree.fromstring(body)
        self.assertEqual(root.tag, f"{{{b2mml_out.V0700}}}SyncOperationsSchedule")
        self.assertEqual(root.findtext("b:ApplicationArea/b:BODID", namespaces=NS), canonical["message_id"])
        request = root.find("b:DataArea/b:OperationsSchedule/b:OperationsRequest", NS)
        self.assertEqual(request.findtext("b:ID", namespaces=NS), mo.name)
        self.assertEqual(request.findtext("b:RequestState", namespaces=NS), "Released")
        materials = [
            (
                req.findtext("b:MaterialDefinitionID", namespaces=NS),
                req.findtext("b:MaterialUse", namespaces=NS),
                req.findtext("b:Quantity/b:QuantityString", namespaces=NS),
                req.findtext("b:Quantity/b:UnitOfMeasure", namespaces=NS),
                [lot.text for lot in req.findall("b:MaterialLotID", NS)],
            )
            for req in request.findall("b:SegmentRequirement/b:MaterialRequirement", NS)
        ]
        self.assertEqual(
            materials,
            [
                ("PUMP-1", "Produced", "4", "Units", []),
                ("HOUS-1", "Consumed", "4", "Units", ["HL-1"]),
                ("RES-1", "Consumed", "2", "kg", []),
            ],
        )
        operation = request.find("b:SegmentRequirement/b:SegmentRequirement", NS)
        self.assertEqual(operation.findtext("b:EquipmentRequirement/b:EquipmentID", namespaces=NS), "WC-1")

    def test_verb_and_namespace_per_backend(self):
        self.backend.b2mml_verb = "Process"
        _mo, msg = self._released()
        body, _ctype = msg._mfg_wire_body()
        root = etree.fromstring(body)
        self.assertEqual(etree.QName(root).localname, "ProcessOperationsSchedule")
        self.assertIsNotNone(root.find("b:DataArea/b:Process", NS))
        self.assertEqual(b2mml_xsd.errors(body), [])
        self.backend.b2mml_namespace = "urn:vendor:b2mml"
        body, _ctype = msg._mfg_wire_body()
        self.assertEqual(etree.QName(etree.fromstring(body)).namespace, "urn:vendor:b2mml")

    def test_validation_refuses_what_the_schema_cannot_check(self):
        self.backend.write({"b2mml_validate_outbound": True, "b2mml_namespace": "urn:vendor:b2mml"})
        _mo, msg = self._released()
        with self.assertRaisesRegex(
            MfgPermanentError, "no B2MML schema ships for namespace 'urn:vendor:b2mml'"
        ):
            msg._mfg_wire_body()
        self.backend.b2mml_namespace = b2mml_out.V0700
        body, _ctype = msg._mfg_wire_body()
        self.assertIn(b"SyncOperationsSchedule", body)

    def test_the_xsd_catches_an_invalid_document(self):
        bad = (
            b'<SyncOperationsSchedule xmlns="http://www.mesa.org/xml/B2MML" releaseID="1.0">'
            b"<ApplicationArea><CreationDateTime>2026-03-01T10:00:00Z</CreationDateTime></ApplicationArea>"
            b"<DataArea><Sync/><OperationsSchedule><OperationsRequest><MaterialUse>Consumed</MaterialUse>"
            b"</OperationsRequest></OperationsSchedule></DataArea></SyncOperationsSchedule>"
        )
        problems = b2mml_xsd.errors(bad)
        self.assertEqual(len(problems), 1)
        self.assertIn("MaterialUse': This element is not expected", problems[0])

    def test_quantity_change_and_cancel(self):
        mo, _release = self._released(qty=10)
        self.env["mfg.message"].search([("direction", "=", "outbound")]).write({"state": "done"})
        with self._outbox_trap() as trap:
            mo.product_qty = 6
        body, _ctype = trap.of("work_order_change")._mfg_wire_body()
        self.assertEqual(b2mml_xsd.errors(body), [])
        root = etree.fromstring(body)
        request = root.find("b:DataArea/b:OperationsSchedule/b:OperationsRequest", NS)
        self.assertEqual(request.findtext("b:RequestState", namespaces=NS), "Released")
        self.assertEqual(
            request.findtext(
                "b:SegmentRequirement/b:MaterialRequirement/b:Quantity/b:QuantityString", namespaces=NS
            ),
            "6",
        )
        with self._outbox_trap() as trap:
            mo.action_cancel()
        body, _ctype = trap.of("work_order_change")._mfg_wire_body()
        self.assertEqual(b2mml_xsd.errors(body), [])
        request = etree.fromstring(body).find("b:DataArea/b:OperationsSchedule/b:OperationsRequest", NS)
        self.assertEqual(request.findtext("b:RequestState", namespaces=NS), "Cancelled")

    def test_item_master_is_a_material_definition(self):
        self.comp_kg.name = "Resin grade B"  # queued (or updated in place: a batch type)
        self.env.flush_all()
        msg = self._outbound("item_master").filtered(
            lambda m: ("product.product", self.comp_kg.id)
            in m.record_ids.mapped(lambda r: (r.res_model, r.res_id))
        )
        self.assertEqual(len(msg), 1, "the item master flow must have queued one message")
        body, _ctype = msg._mfg_wire_body()
        self.assertEqual(b2mml_xsd.errors(body), [])
        definition = etree.fromstring(body).find("b:DataArea/b:MaterialDefinition", NS)
        self.assertEqual(definition.findtext("b:ID", namespaces=NS), "RES-1")
        self.assertEqual(definition.findtext("b:Description", namespaces=NS), "Resin grade B")
        props = {
            p.findtext("b:ID", namespaces=NS): p.findtext("b:Value/b:ValueString", namespaces=NS)
            for p in definition.findall("b:MaterialDefinitionProperty", NS)
        }
        self.assertEqual(props["UnitOfMeasure"], "kg")

    def test_bom_is_an_operations_definition_valid_against_the_v0700_xsd(self):
        """An approved BOM (erp.bom, a batch exchange type) on a B2MML flow: SyncOperationsDefinition
        with the materials as an OperationsMaterialBill and the routing as OperationsSegments."""
        self.backend._mfg_flow(self.etype["bom"]).wire_format = "b2mml"
        approver = new_test_user(self.env, "b2mml-approver", groups="mrp.group_mrp_manager")
        self.bom.with_user(approver).action_mfg_approve_for_mes()
        (msg,) = self._outbound("bom").filtered(
            lambda m: ("mrp.bom", self.bom.id) in m.record_ids.mapped(lambda r: (r.res_model, r.res_id))
        )
        canonical = json.loads(msg.payload)
        for verb in ("Sync", "Process"):
            self.backend.b2mml_verb = verb
            body, content_type = msg._mfg_wire_body()
            self.assertEqual(content_type, "application/xml")
            self.assertEqual(b2mml_xsd.errors(body), [])
            root = etree.fromstring(body)
            self.assertEqual(root.tag, f"{{{b2mml_out.V0700}}}{verb}OperationsDefinition")
            self.assertIsNotNone(root.find(f"b:DataArea/b:{verb}", NS))
        self.assertEqual(msg.wire_payload.encode(), body)
        self.assertEqual(json.loads(msg.payload), canonical, "the canonical JSON stays as it was")
        self.assertEqual(root.findtext("b:ApplicationArea/b:BODID", namespaces=NS), canonical["message_id"])
        definition = root.find("b:DataArea/b:OperationsDefinition", NS)
        self.assertEqual(definition.findtext("b:ID", namespaces=NS), "PUMP-1")
        items = [
            (
                item.findtext("b:MaterialDefinitionID", namespaces=NS),
                item.findtext("b:UseType", namespaces=NS),
                item.findtext("b:Quantity/b:QuantityString", namespaces=NS),
                item.findtext("b:Quantity/b:UnitOfMeasure", namespaces=NS),
            )
            for item in definition.findall("b:OperationsMaterialBill/b:OperationsMaterialBillItem", NS)
        ]
        self.assertEqual(
            items,
            [
                ("PUMP-1", "Produced", "1", "Units"),
                ("HOUS-1", "Consumed", "1", "Units"),
                ("RES-1", "Consumed", "0.5", "kg"),
            ],
        )
        segments = [
            (
                seg.findtext("b:ID", namespaces=NS),
                seg.findtext("b:Description", namespaces=NS),
                seg.findtext("b:Duration", namespaces=NS),
                seg.findtext("b:EquipmentSpecification/b:EquipmentID", namespaces=NS),
            )
            for seg in definition.findall("b:OperationsSegment", NS)
        ]
        self.assertEqual(segments, [("10", "Assemble", "PT360S", "WC-1")])
        # a vendor namespace is written as given, same structure
        self.backend.b2mml_namespace = "urn:vendor:b2mml"
        body, _ctype = msg._mfg_wire_body()
        self.assertEqual(etree.QName(etree.fromstring(body)).namespace, "urn:vendor:b2mml")

    def test_a_contract_without_b2mml_encoding_fails_naming_it(self):
        if "erp.lot_status_changed" not in self.env["mfg.exchange.type"].search([]).mapped("code"):
            raise SkipTest("mfg_quality_connector is not installed")
        etype = self.env.ref("mfg_quality_connector.exchange_type_lot_status_changed")
        self.env["mfg.backend.flow"].create(
            {"backend_id": self.backend.id, "exchange_type_id": etype.id, "wire_format": "b2mml"}
        )
        msg = self.env["mfg.outbox"]._mfg_write(
            self.backend,
            "erp.lot_status_changed",
            {"message_id": "l-1", "sent_at": "2026-03-01T10:00:00Z"},
            None,
            None,
            None,
        )
        with self.assertRaisesRegex(
            MfgPermanentError, "exchange type 'erp.lot_status_changed' has no B2MML encoding"
        ):
            msg._mfg_wire_body()

    def test_json_flows_send_the_payload_itself(self):
        self.backend._mfg_flow(self.etype["work_order_release"]).wire_format = "json"
        _mo, msg = self._released()
        body, content_type = msg._mfg_wire_body()
        self.assertEqual((body, content_type), (msg.payload.encode(), "application/json"))
        self.assertFalse(msg.wire_payload)

    def test_file_transport_writes_the_document(self):
        """A release flow on the file transport (mfg_legacy_flatfile) writes the B2MML document as
        one .xml file in the outbox folder; the message is done and keeps both payloads."""
        if "mfg.transport.file" not in self.env:
            raise SkipTest("mfg_legacy_flatfile is not installed")
        root = configured_roots()[0]
        os.makedirs(root, exist_ok=True)
        folder = tempfile.mkdtemp(prefix="mfg-b2mml-out-", dir=root)
        self.addCleanup(shutil.rmtree, folder, True)
        self.backend.flatfile_outbox_path = folder
        self.backend._mfg_flow(self.etype["work_order_release"]).transport = "file"
        mo, msg = self._released(qty=3)
        self.assertEqual(msg.transport, "file")
        self._drain("outbound")
        msg.invalidate_recordset()
        self.assertEqual(msg.state, "done", msg.error_message)
        (name,) = os.listdir(folder)
        self.assertEqual(name, f"erp.work_order_release.v1-{self.backend.code}-{msg.id}.xml")
        with open(os.path.join(folder, name), "rb") as fh:
            body = fh.read()
        self.assertEqual(body.decode(), msg.wire_payload)
        self.assertEqual(b2mml_xsd.errors(body), [])
        self.assertIn(f"<ID>{mo.name}</ID>".encode(), body)
        self.assertEqual(json.loads(msg.payload)["work_order"], mo.name)

    def test_http_transport_posts_the_document_as_xml(self):
        """The release flow on HTTP: the body is the B2MML document, Content-Type application/xml."""
        received = []

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
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
        mo, msg = self._released(qty=2)
        self.assertEqual(msg.transport, "http")
        self._drain("outbound")
        msg.invalidate_recordset()
        self.assertEqual(msg.state, "done", msg.error_message)
        releases = [
            (h, b) for h, b in received if h.get("X-Mfg-Exchange-Type") == "erp.work_order_release.v1"
        ]
        self.assertEqual(len(releases), 1, [h.get("X-Mfg-Exchange-Type") for h, _b in received])
        headers, body = releases[0]
        self.assertEqual(headers["Content-Type"], "application/xml")
        self.assertEqual(body.decode(), msg.wire_payload)
        self.assertEqual(b2mml_xsd.errors(body), [])
        self.assertIn(f"<ID>{mo.name}</ID>".encode(), body)
