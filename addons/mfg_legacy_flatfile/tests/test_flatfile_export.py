import csv
import json
import os

from odoo import Command
from odoo.tests import tagged

from .common import FlatfileCase


@tagged("post_install", "-at_install")
class TestFlatfileExport(FlatfileCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ref = cls.env.ref
        cls.export_types = {
            k: ref(f"mfg_legacy_flatfile.exchange_type_{k}") for k in ("item_master", "bom", "stock_levels")
        }
        cls.backend.flow_ids = [
            Command.create({"exchange_type_id": t.id, "transport": "file"}) for t in cls.export_types.values()
        ]
        cls.items_fixed = cls.env["mfg.flatfile.format"].create(
            {
                "name": "AS/400 item master",
                "code": "as400-items",
                "direction": "outbound",
                "kind": "fixed",
                "encoding": "cp1252",
                "header_rows": 0,
                "filename_pattern": "ITEMS_%Y%m%d_%H%M%S.DAT",
                "column_ids": [
                    Command.create({"sequence": 1, "field_name": "code", "start": 1, "width": 10}),
                    Command.create({"sequence": 2, "field_name": "name", "start": 11, "width": 20}),
                    Command.create({"sequence": 3, "field_name": "uom", "start": 31, "width": 6}),
                    Command.create({"sequence": 4, "field_name": "tracking", "start": 37, "width": 6}),
                ],
            }
        )
        cls.levels_csv = cls.env["mfg.flatfile.format"].create(
            {
                "name": "Stock levels CSV",
                "code": "levels-csv",
                "direction": "outbound",
                "delimiter": ";",
                "decimal_separator": ",",
                "header_rows": 1,
                "filename_pattern": "STOCK_%Y%m%d.csv",
                "column_ids": [
                    Command.create(
                        {"sequence": i, "field_name": f, "column_index": i, "header": h, "field_type": t}
                    )
                    for i, (f, h, t) in enumerate(
                        [
                            ("location", "LAGER", "char"),
                            ("product", "ARTIKEL", "char"),
                            ("lot", "CHARGE", "char"),
                            ("quantity", "MENGE", "float"),
                        ],
                        start=1,
                    )
                ],
            }
        )

    def setUp(self):
        super().setUp()
        self.outbox = os.path.join(self.root, "outbox")
        self.backend.flatfile_outbox_path = self.outbox

    def _send(self):
        self._drain("outbound")

    def test_item_master_in_fixed_width_cp1252_written_atomically_then_only_changes(self):
        self.bolt.name = "Schraube M8 Größe"
        export = self.env["mfg.flatfile.export"].create(
            {
                "name": "Items",
                "backend_id": self.backend.id,
                "kind": "item_master",
                "format_id": self.items_fixed.id,
                "delta_only": True,
            }
        )
        message = export._mfg_run()
        self.assertEqual(message.state, "queued")
        self.assertFalse(
            os.path.exists(self.outbox), "nothing is written before the transaction commits and sends"
        )
        self._send()
        self.assertEqual(message.state, "done", message.error_message)
        [name] = os.listdir(self.outbox)
        self.assertRegex(name, r"^ITEMS_\d{8}_\d{6}\.DAT$")
        with open(os.path.join(self.outbox, name), "rb") as fh:
            lines = fh.read().decode("cp1252").split("\r\n")
        self.assertIn("BOLT-8    Schraube M8 Größe   Units none", lines)
        self.assertIn("COIL-1    Steel coil          Units lot", lines)
        # Only changes next time. (Inside one test transaction every write has the same
        # write_date: the dates are set by hand to tell old from new.)
        products = self.bolt | self.steel
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE product_product SET write_date = '2020-01-01' WHERE id IN %s", (tuple(products.ids),)
        )
        self.env.cr.execute(
            "UPDATE product_template SET write_date = '2020-01-01' WHERE id IN %s",
            (tuple(products.product_tmpl_id.ids),),
        )
        self.env.cr.execute(
            "UPDATE product_product SET write_date = '2019-01-01' WHERE write_date > '2020-01-01'"
        )
        self.env.cr.execute(
            "UPDATE product_template SET write_date = '2019-01-01' WHERE write_date > '2020-01-01'"
        )
        self.env.invalidate_all()
        export.last_run_at = "2021-01-01 00:00:00"
        self.assertFalse(export._mfg_run(), "nothing changed: no file")
        self.assertEqual(export.last_count, 0)
        export.last_run_at = "2021-01-01 00:00:00"
        self.env.cr.execute(
            "UPDATE product_template SET write_date = '2022-01-01' WHERE id = %s",
            (self.steel.product_tmpl_id.id,),
        )
        self.env.invalidate_all()
        second = export._mfg_run()
        self.assertEqual([r["code"] for r in json.loads(second.payload)["records"]], ["COIL-1"])

    def test_stock_levels_csv_with_mapped_location_codes(self):
        self.env["stock.quant"]._update_available_quantity(self.bolt, self.shelf, 12.5)
        export = self.env["mfg.flatfile.export"].create(
            {
                "name": "Levels",
                "backend_id": self.backend.id,
                "kind": "stock_levels",
                "format_id": self.levels_csv.id,
            }
        )
        message = export._mfg_run()
        self._send()
        self.assertEqual(message.state, "done", message.error_message)
        [name] = os.listdir(self.outbox)
        with open(os.path.join(self.outbox, name), encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, delimiter=";"))
        self.assertEqual(rows[0], ["LAGER", "ARTIKEL", "CHARGE", "MENGE"])
        self.assertIn(["L07", "BOLT-8", "", "12,5"], rows)  # the plant's location code, decimal comma

    def test_bom_export_one_line_per_component(self):
        bom = self.env["mrp.bom"].create(
            {
                "product_tmpl_id": self.steel.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [Command.create({"product_id": self.bolt.id, "product_qty": 4})],
            }
        )
        fmt = self.levels_csv.copy(
            {
                "code": "bom-csv",
                "column_ids": [
                    Command.create({"sequence": 1, "field_name": "product", "column_index": 1}),
                    Command.create({"sequence": 2, "field_name": "component", "column_index": 2}),
                    Command.create(
                        {"sequence": 3, "field_name": "quantity", "column_index": 3, "field_type": "float"}
                    ),
                ],
            }
        )
        export = self.env["mfg.flatfile.export"].create(
            {"name": "BOMs", "backend_id": self.backend.id, "kind": "bom", "format_id": fmt.id}
        )
        records = json.loads(export._mfg_run().payload)["records"]
        mine = [r for r in records if r["bom"] == str(bom.id)]
        self.assertEqual(
            [(r["product"], r["component"], r["quantity"]) for r in mine], [("COIL-1", "BOLT-8", 4.0)]
        )

    def test_unwritable_outbox_is_retried_not_lost(self):
        blocker = os.path.join(self.root, "not-a-folder")
        with open(blocker, "w") as out:
            out.write("x")
        self.backend.flatfile_outbox_path = os.path.join(blocker, "outbox")
        export = self.env["mfg.flatfile.export"].create(
            {
                "name": "Levels",
                "backend_id": self.backend.id,
                "kind": "item_master",
                "format_id": self.items_fixed.id,
            }
        )
        message = export._mfg_run()
        self._send()
        self.assertEqual(message.state, "retrying")
        self.assertIn("Cannot write", message.error_message)
        self.assertFalse([n for n in os.listdir(self.root) if n.endswith(".tmp")])
