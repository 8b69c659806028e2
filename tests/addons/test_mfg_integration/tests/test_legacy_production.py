"""Across connectors: a legacy plant's production confirmations (fixed-width file) go
through the MES contract mes.production_completion and its handler, unchanged."""

import json
import os
import shutil
import time

from odoo import Command
from odoo.tests import TransactionCase, tagged

from odoo.addons.mfg_legacy_flatfile.tests.common import make_test_folder


@tagged("post_install", "-at_install")
class TestLegacyProductionConfirmation(TransactionCase):
    def setUp(self):
        super().setUp()
        env, ref = self.env, self.env.ref
        self.root = make_test_folder("mfg-legacy-prod-")  # drop folders lie under file_roots
        self.addCleanup(shutil.rmtree, self.root, True)
        self.inbox = os.path.join(self.root, "inbox")
        os.makedirs(self.inbox)
        completion = ref("mfg_mes_connector.exchange_type_production_completion")
        self.format = env["mfg.flatfile.format"].create(
            {
                "name": "Plant 3 production confirmations",
                "code": "p3-prod",
                "kind": "fixed",
                "filename_pattern": "PRD*.TXT",
                "encoding": "cp1252",
                "header_rows": 0,
                "decimal_separator": ",",
                "exchange_type_id": completion.id,
                "column_ids": [
                    Command.create(
                        {"sequence": 1, "field_name": "work_order", "start": 1, "width": 12, "required": True}
                    ),
                    Command.create(
                        {
                            "sequence": 2,
                            "field_name": "quantity",
                            "field_type": "float",
                            "start": 13,
                            "width": 8,
                        }
                    ),
                    Command.create(
                        {
                            "sequence": 3,
                            "field_name": "final",
                            "field_type": "boolean",
                            "start": 21,
                            "width": 1,
                        }
                    ),
                    Command.create(
                        {"sequence": 4, "field_name": "message_id", "constant": "{checksum}-{line}"}
                    ),
                    Command.create({"sequence": 5, "field_name": "sent_at", "constant": "{received_at}"}),
                    Command.create({"sequence": 6, "field_name": "uom", "constant": "Units"}),
                ],
            }
        )
        warehouse = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1)
        self.backend = env["mfg.backend"].create(
            {
                "name": "Plant 3 legacy",
                "code": "p3-legacy",
                "warehouse_id": warehouse.id,
                "flatfile_inbox_path": self.inbox,
                "flatfile_processed_path": os.path.join(self.root, "processed"),
                "flatfile_error_path": os.path.join(self.root, "error"),
                "flatfile_ready_rule": "immediate",
                "flatfile_format_ids": [Command.set(self.format.ids)],
                "flow_ids": [Command.create({"exchange_type_id": completion.id})],
            }
        )
        Product = env["product.product"]
        self.chair = Product.create({"name": "Chair", "default_code": "CHAIR", "is_storable": True})
        self.leg = Product.create({"name": "Leg", "default_code": "LEG", "is_storable": True})
        env["stock.quant"]._update_available_quantity(self.leg, warehouse.lot_stock_id, 100)
        bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": self.chair.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [Command.create({"product_id": self.leg.id, "product_qty": 4})],
            }
        )
        self.mo = env["mrp.production"].create(
            {"product_id": self.chair.id, "product_qty": 10, "bom_id": bom.id}
        )
        self.mo.action_confirm()

    def test_fixed_width_confirmation_completes_the_mo_through_the_mes_handler(self):
        line = f"{self.mo.name:<12}{'6,00':>8}N"
        path = os.path.join(self.inbox, "PRD0301.TXT")
        with open(path, "w", encoding="cp1252", newline="") as out:
            out.write(line + "\r\n")
        os.utime(path, (time.time() - 60,) * 2)
        self.env.flush_all()
        batch = self.backend._mfg_flatfile_scan()
        self.assertEqual((batch.message_count, batch.rejected_count), (1, 0))
        self.backend._mfg_drain("inbound", "root.mfg")
        self.env.invalidate_all()
        message = self.env["mfg.message"].search([("correlation_id", "=", batch.correlation_id)])
        self.assertEqual(message.state, "done", message.error_message)
        self.assertEqual(json.loads(message.payload)["message_id"], f"{batch.checksum[:24]}-1")
        self.assertEqual(
            message.external_id, f"{batch.checksum[:24]}:1", "file checksum and line: idempotent"
        )
        self.assertEqual(self.mo.state, "done")
        self.assertEqual(self.mo.qty_produced, 6)
        backorder = self.mo.procurement_group_id.mrp_production_ids - self.mo
        self.assertEqual(backorder.product_qty, 4, "partial and not final: the rest is a backorder")

    def test_fixed_width_confirmation_finer_than_the_unit_is_refused_not_rounded(self):
        line = f"{self.mo.name:<12}{'6,005':>8}N"
        path = os.path.join(self.inbox, "PRD0302.TXT")
        with open(path, "w", encoding="cp1252", newline="") as out:
            out.write(line + "\r\n")
        os.utime(path, (time.time() - 60,) * 2)
        self.env.flush_all()
        batch = self.backend._mfg_flatfile_scan()
        self.backend._mfg_drain("inbound", "root.mfg")
        self.env.invalidate_all()
        message = self.env["mfg.message"].search([("correlation_id", "=", batch.correlation_id)])
        self.assertEqual(message.state, "failed", "6.005 Units would be booked as 6.01")
        self.assertEqual(message.error_path, "/quantity")
        self.assertIn("Quantity 6.005 Units of product [CHAIR] Chair", message.error_message)
        self.assertIn("unit Units rounds to 0.01", message.error_message)
        self.assertEqual(self.mo.qty_produced, 0)
