import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tests import Form, tagged

from odoo.addons.mfg_integration_base.transports.http import webhook_signing

from .common import MfgQualityCase


@tagged("post_install", "-at_install")
class TestQualityPipeline(MfgQualityCase):
    # ------------------------------------------------------------------ acceptance 1
    def test_failed_inspection_holds_lot_blocks_delivery_until_release(self):
        delivery = self._delivery(self.lot)
        msg = self._receive(self.etype_inspection, self._inspection("insp-1"))
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        inspection = self.env["mfg.quality.inspection"].search([("name", "=", "INSP-insp-1")])
        self.assertEqual(inspection.verdict, "fail")
        self.assertEqual(inspection.lot_id, self.lot)
        self.assertEqual(len(inspection.line_ids), 2)
        viscosity = inspection.line_ids.filtered(lambda line: line.name == "viscosity")
        self.assertEqual(
            (viscosity.measured_value, viscosity.upper_limit, viscosity.result), (512.5, 500, "fail")
        )
        # Same transaction: the hold, the nonconformance and the links on the message.
        self.assertEqual(self.lot.mfg_hold_state, "held")
        nc = self.lot.mfg_hold_nonconformance_id
        self.assertTrue(nc, "a failed inspection opens a nonconformance")
        self.assertEqual(inspection.nonconformance_id, nc)
        self.assertIn(self.lot, nc.lot_ids)
        self.assertTrue(nc.activity_ids, "a major nonconformance gets a corrective-action activity")
        self.assertEqual(self.lot.mfg_hold_message_id, msg)
        self.assertIn(("stock.lot", self.lot.id), [(r.res_model, r.res_id) for r in msg.record_ids])
        self.assertEqual(self.lot2.mfg_hold_state, False, "other lots are untouched")

        with self.assertRaises(UserError) as caught:
            delivery.button_validate()
        text = str(caught.exception)
        self.assertIn("L-100", text)
        self.assertIn(nc.name, text)
        self.assertIn(delivery.name, text)
        self.assertNotEqual(delivery.state, "done")

        release = self._receive(self.etype_release, self._release("rel-1", "2026-03-01T12:00:00Z"))
        self._drain()
        self.assertEqual(release.state, "done", release.error_message)
        self.assertEqual(self.lot.mfg_hold_state, "released")
        self.assertEqual(self.lot.mfg_hold_reason, "Retest passed")
        delivery.button_validate()
        self.assertEqual(delivery.state, "done")

    def test_passed_inspection_does_not_hold(self):
        msg = self._receive(self.etype_inspection, self._inspection("insp-ok", verdict="pass"))
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        self.assertFalse(self.lot.mfg_hold_state)
        self.assertFalse(self._status_messages())

    # ------------------------------------------------------------------ acceptance 2
    def test_out_of_order_hold_release_newest_event_wins(self):
        # Issued: hold 10:00, release 11:00, hold 09:00 (stale, e.g. resent by a slow gateway).
        hold = self._receive(self.etype_hold, self._hold("h-1", "2026-03-01T10:00:00Z"))
        release = self._receive(self.etype_release, self._release("r-1", "2026-03-01T11:00:00+00:00"))
        stale = self._receive(self.etype_hold, self._hold("h-0", "2026-03-01T10:00:00+01:00"))  # 09:00 UTC
        self.assertEqual(
            hold.ordering_key, "L-100|RES-1", "lot and product: same lot name, other product, other key"
        )
        self._drain()
        self.assertEqual((hold | release | stale).mapped("state"), ["done"] * 3)
        self.assertEqual(self.lot.mfg_hold_state, "released")
        ignored = self.lot.mfg_hold_event_ids.filtered(lambda e: e.action == "ignored")
        self.assertEqual(ignored.message_id, stale)
        self.assertIn("ignored", ignored.note)
        self.assertIn(("stock.lot", self.lot.id), [(r.res_model, r.res_id) for r in stale.record_ids])
        # Release issued before the hold but arriving after it: the lot stays held.
        self._receive(self.etype_hold, self._hold("h-2", "2026-03-02T08:00:00Z", lot="L-200"))
        late = self._receive(self.etype_release, self._release("r-2", "2026-03-02T07:59:59Z", lot="L-200"))
        self._drain()
        self.assertEqual(late.state, "done")
        self.assertEqual(self.lot2.mfg_hold_state, "held")
        self.assertEqual(self.lot2.mfg_hold_event_ids.mapped("action"), ["ignored", "hold"])

    def test_duplicate_message_id_applied_once(self):
        first = self._receive(self.etype_hold, self._hold("dup-1", "2026-03-01T10:00:00Z"))
        again = self._receive(self.etype_hold, self._hold("dup-1", "2026-03-01T10:00:00Z"))
        self.assertEqual(first, again)
        self._drain()
        self.assertEqual(first.state, "done")
        self.assertEqual(self.lot.mfg_hold_state, "held")
        self.assertEqual(len(self.lot.mfg_hold_event_ids), 1)
        self.assertEqual(len(self._status_messages()), 1)
        # A second hold with its own id changes nothing and notifies nobody.
        self._receive(self.etype_hold, self._hold("dup-2", "2026-03-01T10:05:00Z"))
        self._drain()
        self.assertEqual(self.lot.mfg_hold_event_ids.mapped("action"), ["unchanged", "hold"])
        self.assertEqual(len(self._status_messages()), 1)

    # ------------------------------------------------------------------ errors
    def test_unknown_lot_fails_naming_the_lot(self):
        msg = self._receive(
            self.etype_hold, self._hold("h-unknown", "2026-03-01T10:00:00Z", lot="NO-SUCH-LOT")
        )
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_class, "mapping")
        self.assertIn("NO-SUCH-LOT", msg.error_message)
        # A lot of that name for another product is not taken for it.
        other = self.env["product.product"].create(
            {"name": "Other", "default_code": "OTH", "tracking": "lot", "is_storable": True}
        )
        self.env["stock.lot"].create({"name": "L-300", "product_id": other.id})
        msg2 = self._receive(self.etype_inspection, self._inspection("insp-x", lot="L-300"))
        self._drain()
        self.assertEqual(msg2.state, "failed")
        self.assertIn("L-300", msg2.error_message)

    def test_schema_violation_rejected(self):
        data = self._hold("h-bad", "yesterday")
        del data["reason"]
        msg = self._receive(self.etype_hold, data)
        self._drain()
        self.assertEqual(msg.state, "rejected")
        self.assertEqual(msg.error_class, "validation")
        self.assertIn("event_at", msg.error_message)
        self.assertIn("reason", msg.error_message)
        self.assertFalse(self.lot.mfg_hold_state)

    # ------------------------------------------------------------------ enforcement
    def test_mo_consumption_of_held_lot_refused(self):
        finished = self.env["product.product"].create({"name": "Panel", "is_storable": True})
        bom = self.env["mrp.bom"].create(
            {
                "product_tmpl_id": finished.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [Command.create({"product_id": self.product.id, "product_qty": 2})],
            }
        )
        self._receive(self.etype_hold, self._hold("h-mo", "2026-03-01T10:00:00Z"))
        self._drain()
        self.assertEqual(self.lot.mfg_hold_state, "held")

        def produce(lot):
            mo_form = Form(self.env["mrp.production"])
            mo_form.product_id = finished
            mo_form.bom_id = bom
            mo_form.product_qty = 1
            mo = mo_form.save()
            mo.action_confirm()
            raw = mo.move_raw_ids
            raw.move_line_ids.unlink()
            self.env["stock.move.line"].create(
                {
                    "move_id": raw.id,
                    "product_id": self.product.id,
                    "lot_id": lot.id,
                    "quantity": 2,
                    "product_uom_id": self.product.uom_id.id,
                    "location_id": raw.location_id.id,
                    "location_dest_id": raw.location_dest_id.id,
                }
            )
            raw.picked = True
            with Form(mo) as form:
                form.qty_producing = 1
            return mo

        mo = produce(self.lot)
        with self.assertRaises(UserError) as caught:
            mo.button_mark_done()
        self.assertIn("L-100", str(caught.exception))
        self.assertNotEqual(mo.state, "done")
        mo_ok = produce(self.lot2)
        mo_ok.button_mark_done()
        self.assertEqual(mo_ok.state, "done")

    def test_receipt_of_held_lot_into_stock_allowed(self):
        self.lot._mfg_set_hold("held", "Quarantine on arrival")
        receipt = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.in_type_id.id,
                "location_id": self.env.ref("stock.stock_location_suppliers").id,
                "location_dest_id": self.stock.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": "in",
                            "product_id": self.product.id,
                            "product_uom_qty": 5,
                            "product_uom": self.product.uom_id.id,
                            "location_id": self.env.ref("stock.stock_location_suppliers").id,
                            "location_dest_id": self.stock.id,
                        }
                    )
                ],
            }
        )
        receipt.action_confirm()
        receipt.move_ids.move_line_ids.write({"lot_id": self.lot.id, "quantity": 5})
        receipt.move_ids.picked = True
        receipt.button_validate()
        self.assertEqual(receipt.state, "done")

    # ------------------------------------------------------------------ outbound webhook
    def test_webhook_queued_on_hold_and_release_and_signed(self):
        other_company = self.env["res.company"].create({"name": "Other plant"})
        foreign = self.env["mfg.backend"].create(
            {
                "name": "Other QMS",
                "code": "other-qms",
                "company_id": other_company.id,
                "flow_ids": [Command.create({"exchange_type_id": self.etype_status.id})],
            }
        )
        self._receive(self.etype_hold, self._hold("h-w", "2026-03-01T10:00:00Z"))
        self._drain()
        self._receive(self.etype_release, self._release("r-w", "2026-03-01T11:00:00Z"))
        self._drain()
        sent = self._status_messages()
        self.assertEqual(len(sent), 2)
        self.assertEqual(sent.mapped("direction"), ["outbound", "outbound"])
        self.assertEqual(sent.mapped("state"), ["queued", "queued"])
        self.assertEqual(sent.mapped("ordering_key"), ["L-100", "L-100"])
        payloads = [json.loads(p) for p in sent.mapped("payload")]
        self.assertEqual([p["status"] for p in payloads], ["held", "released"])
        self.assertEqual(payloads[0]["reason"], "Suspect batch")
        self.assertEqual(payloads[1]["event_at"], "2026-03-01T11:00:00Z")
        self.assertFalse(
            self.Message.search([("backend_id", "=", foreign.id)]), "other companies hear nothing"
        )

        # Sent through the base HTTP transport to a real receiver, with the HMAC-SHA256 signature.
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
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.backend.http_url = f"http://127.0.0.1:{server.server_address[1]}/lot-status"
        self._drain("outbound")
        self.assertEqual(sent.mapped("state"), ["done", "done"])
        self.assertEqual(len(received), 2)
        headers, body = received[0]
        self.assertEqual(json.loads(body)["status"], "held")
        self.assertTrue(
            webhook_signing.verify_webhook("s3cret", body, headers), "Standard Webhooks signature"
        )
        self.assertEqual(headers["webhook-id"], headers["Idempotency-Key"])

    # ------------------------------------------------------------------ nonconformance
    def test_nonconformance_message_with_defect_mapping_then_hold_names_it(self):
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "defect",
                "external_code": "D17",
                "value": "Contamination",
            }
        )
        data = {
            "message_id": "nc-1",
            "nonconformance_id": "QMS-NC-7",
            "product": "RES-1",
            "lots": ["L-100", "L-200"],
            "defect_code": "D17",
            "severity": "critical",
            "disposition": "rework",
        }
        msg = self._receive(self.etype_nc, data)
        self._receive(self.etype_hold, self._hold("h-nc", "2026-03-01T10:00:00Z", nonconformance="QMS-NC-7"))
        self._drain()
        self.assertEqual(msg.state, "done", msg.error_message)
        nc = self.env["mfg.nonconformance"].search([("name", "=", "QMS-NC-7")])
        self.assertEqual(nc.defect, "Contamination")
        self.assertEqual(nc.lot_ids, self.lot | self.lot2)
        self.assertEqual((nc.severity, nc.disposition, nc.state), ("critical", "rework", "open"))
        self.assertEqual(len(nc.activity_ids), 1)
        self.assertEqual(self.lot.mfg_hold_nonconformance_id, nc)
        self.assertIn("QMS-NC-7", self.lot._mfg_hold_blocking_text())
        # An update of the same number: no second record, no second activity.
        self._receive(self.etype_nc, dict(data, message_id="nc-2", disposition="scrap", status="closed"))
        self._drain()
        self.assertEqual(self.env["mfg.nonconformance"].search_count([("name", "=", "QMS-NC-7")]), 1)
        self.assertEqual((nc.disposition, nc.state), ("scrap", "closed"))
        self.assertEqual(len(nc.activity_ids), 1)

    def test_manual_hold_wizard_requires_manager(self):
        stock_user = self.env["res.users"].create(
            {
                "name": "Picker",
                "login": "picker-q",
                "groups_id": [Command.set([self.env.ref("stock.group_stock_user").id])],
            }
        )
        with self.assertRaises(UserError):
            self.lot.with_user(stock_user).action_mfg_hold()
        self.assertFalse(self.lot.with_user(stock_user).mfg_hold_state)
        action = self.lot.action_mfg_hold()
        wizard = self.env["mfg.lot.hold.wizard"].with_context(**action["context"]).create({"reason": "Audit"})
        wizard.action_apply()
        self.assertEqual(self.lot.mfg_hold_state, "held")
        self.assertEqual(self.lot.mfg_hold_user_id, self.env.user)
        self.assertEqual(len(self._status_messages()), 1)
