import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.mfg_integration_base.transports.http import webhook_signing

from .common import MfgTraceCase


@tagged("post_install", "-at_install")
class TestRecall(MfgTraceCase):
    def test_recall_from_raw_lot_holds_everything_and_blocks_shipping(self):
        recall = self.env["mfg.recall"].create({"lot_id": self.r1.id})
        self.assertEqual(
            sorted(recall.affected_lot_ids.mapped("name")), ["R-1", "SA-1", "SA-2", "SN-1", "SN-2", "SN-3"]
        )
        self.assertEqual(sorted(recall.finished_lot_ids.mapped("name")), ["SN-1", "SN-2", "SN-3"])
        stock = sorted((q.location_id.display_name, q.lot_id.name, q.quantity) for q in recall.quant_ids)
        self.assertEqual(
            stock, [("WH/Stock", "R-1", 14.0), ("WH/Stock", "SA-2", 1.0), ("WH/Stock", "SN-3", 1.0)]
        )
        shipped = [
            (ml.picking_id.partner_id.name, ml.picking_id.name, ml.lot_id.name)
            for ml in recall.shipped_line_ids
        ]
        self.assertEqual(
            shipped, [("Customer A", self.d1.name, "SN-1"), ("Customer B", self.d2.name, "SN-2")]
        )
        self.assertIn("Customer A", recall.customer_summary)
        self.assertEqual(self.env["mfg.recall"].create({"lot_id": self.r2.id}).finished_lot_ids, self.sn3)

        with self.assertRaisesRegex(UserError, "Only Integration Managers"):
            recall.with_user(self._create_user("U", "u", [self.group_user])).action_hold_affected()
        with self.assertRaisesRegex(UserError, r"field Reason"):
            recall.action_hold_affected()
        recall.reason = "Supplier reports contaminated steel"
        with self._outbox_trap(self.qms) as trap:
            recall.action_hold_affected()
        affected = recall.affected_lot_ids
        self.assertEqual(set(affected.mapped("mfg_hold_state")), {"held"})
        self.assertEqual(recall.held_count, 6)
        self.assertIn("Recall from lot R-1", self.sn3.mfg_hold_reason)

        # The quality system is told once per lot, signed, by its webhook.
        status = trap.of("erp.lot_status_changed")
        self.assertEqual(sorted(status.mapped("ordering_key")), sorted(affected.mapped("name")))
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
        self.qms.http_url = f"http://127.0.0.1:{server.server_address[1]}/lot-status"
        self._drain_all("outbound", backend=self.qms)
        self.assertEqual(set(status.mapped("state")), {"done"})
        bodies = [json.loads(body) for _headers, body in received]
        self.assertEqual(sorted(b["lot"] for b in bodies), sorted(affected.mapped("name")))
        self.assertEqual({b["status"] for b in bodies}, {"held"})
        for headers, body in received:
            self.assertTrue(webhook_signing.verify_webhook("s3cret", body, headers))

        # Shipping an affected lot is refused.
        delivery = self._delivery(self.sn3, self.customer_a)
        with self.assertRaisesRegex(UserError, "Lot SN-3 of .* is on quality hold"):
            delivery.button_validate()
        self.assertNotEqual(delivery.state, "done")
