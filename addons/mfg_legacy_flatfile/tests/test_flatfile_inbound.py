import base64
import csv
import json
import os
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from .common import FlatfileCase

MOVEMENT_COLUMNS = [
    {"field_name": "reference", "column_index": 1},
    {"field_name": "product", "column_index": 2, "required": True},
    {"field_name": "quantity", "field_type": "float", "column_index": 3, "required": True},
    {"field_name": "lot", "column_index": 4},
    {"field_name": "from_location", "column_index": 5, "required": True},
    {"field_name": "to_location", "column_index": 6, "required": True},
    {"field_name": "moved_at", "field_type": "datetime", "column_index": 7},
]


@tagged("post_install", "-at_install")
class TestFlatfileInbound(FlatfileCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.movements = cls.env["mfg.flatfile.format"].create(
            {
                "name": "AS/400 movements",
                "code": "as400-mov",
                "filename_pattern": "MOV_*.csv",
                "encoding": "cp1252",
                "delimiter": ";",
                "decimal_separator": ",",
                "datetime_format": "%d.%m.%Y %H:%M",
                "timezone": "Europe/Berlin",
                "header_rows": 1,
                "exchange_type_id": cls.etype["stock_movement"].id,
                "column_ids": [Command.create({"sequence": i, **c}) for i, c in enumerate(MOVEMENT_COLUMNS)],
            }
        )
        cls.snapshot_format = cls.env["mfg.flatfile.format"].create(
            {
                "name": "Stock list",
                "code": "stocklist",
                "filename_pattern": "STK_*.csv",
                "header_rows": 1,
                "exchange_type_id": cls.etype["stock_snapshot"].id,
                "column_ids": [
                    Command.create(
                        {"sequence": 1, "field_name": "location", "column_index": 1, "required": True}
                    ),
                    Command.create(
                        {"sequence": 2, "field_name": "product", "column_index": 2, "required": True}
                    ),
                    Command.create({"sequence": 3, "field_name": "lot", "column_index": 3}),
                    Command.create(
                        {
                            "sequence": 4,
                            "field_name": "quantity",
                            "field_type": "float",
                            "column_index": 4,
                            "required": True,
                        }
                    ),
                ],
            }
        )
        cls.counts = cls.env["mfg.flatfile.format"].create(
            {
                "name": "Cycle counts (fixed width)",
                "code": "counts-fixed",
                "kind": "fixed",
                "filename_pattern": "CNT*.TXT",
                "encoding": "latin-1",
                "header_rows": 0,
                "record_type_start": 1,
                "record_type_length": 1,
                "record_type_ids": [
                    Command.create({"value": "H", "action": "skip"}),
                    Command.create({"value": "T", "action": "skip"}),
                    Command.create(
                        {"value": "D", "action": "message", "exchange_type_id": cls.etype["cycle_count"].id}
                    ),
                ],
                "column_ids": [
                    Command.create(
                        {"sequence": 1, "field_name": "location", "start": 2, "width": 4, "required": True}
                    ),
                    Command.create(
                        {"sequence": 2, "field_name": "product", "start": 6, "width": 8, "required": True}
                    ),
                    Command.create({"sequence": 3, "field_name": "lot", "start": 14, "width": 8}),
                    Command.create(
                        {
                            "sequence": 4,
                            "field_name": "counted_quantity",
                            "field_type": "float",
                            "start": 22,
                            "width": 9,
                        }
                    ),
                ],
            }
        )
        cls.backend.flatfile_format_ids = cls.movements | cls.snapshot_format | cls.counts

    def _qty(self, product, location, lot=None):
        quants = self.env["stock.quant"].search(
            [("product_id", "=", product.id), ("location_id", "=", location.id)]
            + ([("lot_id.name", "=", lot)] if lot else [])
        )
        return sum(quants.mapped("quantity"))

    # ------------------------------------------------------------------ CSV and fixed width
    def test_csv_file_in_cp1252_with_crlf_becomes_done_stock_moves(self):
        text = (
            "Beleg;Artikel;Menge;Charge;Von;Nach;Zeit\r\n"
            "WE-4711 Müller;COIL-1;1,5;CH-01;WE;L01;01.03.2026 08:30\r\n"
            "WE-4711 Müller;BOLT-8;100;;WE;L01;01.03.2026 08:31\r\n"
            "UM-0815;BOLT-8;40;;L01;L07;01.03.2026 09:00\r\n"
        )
        self._drop("MOV_20260301.csv", text.encode("cp1252"))
        batch = self._scan()
        self.assertEqual(batch.state, "done")
        self.assertEqual(
            (batch.line_count, batch.record_count, batch.message_count, batch.rejected_count), (4, 3, 3, 0)
        )
        self.assertEqual(self._files("processed"), ["MOV_20260301.csv"])
        self.assertFalse(os.listdir(self.inbox))
        messages = self._messages(batch)
        self.assertEqual(messages.mapped("state"), ["queued"] * 3)
        self.assertEqual(
            json.loads(messages[0].headers), {"file": "MOV_20260301.csv", "line": 2, "format": "as400-mov"}
        )
        self._drain_all()
        self.assertEqual(messages.mapped("state"), ["done"] * 3, messages.mapped("error_message"))
        self.assertEqual(self._qty(self.steel, self.stock, "CH-01"), 1.5)
        self.assertEqual(self._qty(self.bolt, self.stock), 60)
        self.assertEqual(self._qty(self.bolt, self.shelf), 40)
        move = self.env["stock.move"].search(
            [("origin", "=", "WE-4711 Müller"), ("product_id", "=", self.steel.id)]
        )
        self.assertEqual(move.state, "done")
        self.assertEqual(str(move.date), "2026-03-01 07:30:00")  # Berlin time in the file, UTC in Odoo
        self.assertEqual(batch.done_count, 3)

    def test_fixed_width_file_with_header_and_trailer_records_adjusts_inventory(self):
        self.env["stock.quant"]._update_available_quantity(self.bolt, self.shelf, 10)
        lines = [
            "H20260301 PLANT2",
            "DL07 BOLT-8          12.000",
            "DL01 COIL-1  CH-77    3.250",
            "T000002",
        ]
        self._drop("CNT0301.TXT", "\r\n".join(lines).encode("latin-1"))
        batch = self._scan()
        self.assertEqual((batch.record_count, batch.skipped_count, batch.message_count), (4, 2, 2))
        self._drain_all()
        self.assertEqual(self._messages(batch).mapped("state"), ["done", "done"])
        self.assertEqual(self._qty(self.bolt, self.shelf), 12)
        self.assertEqual(self._qty(self.steel, self.stock, "CH-77"), 3.25)

    # ------------------------------------------------------------------ bad lines
    def test_three_bad_lines_of_a_thousand(self):
        rows = ["location,product,lot,quantity"]
        for i in range(1, 1001):
            rows.append(f"L01,BOLT-8,,{i}")
        rows[100] = "L01,BOLT-8,,a lot"  # line 101: not a number
        rows[500] = "L01,,,5"  # line 501: product missing
        rows[900] = "L01,BOLT-8"  # line 901: quantity missing
        self._drop("STK_big.csv", "\n".join(rows) + "\n")
        batch = self._scan()
        self.assertEqual(batch.state, "error")
        self.assertEqual((batch.record_count, batch.message_count, batch.rejected_count), (1000, 1000, 3))
        self.assertEqual(self._files("error"), ["STK_big.csv", "STK_big.csv.errors.csv"])
        with open(os.path.join(self.root, "error", "STK_big.csv.errors.csv"), encoding="utf-8-sig") as fh:
            report = list(csv.reader(fh, delimiter=";"))
        self.assertEqual(
            report,
            [
                ["line", "state", "reason", "content"],
                [
                    "101",
                    "rejected",
                    "line 101: field 'quantity' (column 4): 'a lot' is not a number",
                    "L01,BOLT-8,,a lot",
                ],
                ["501", "rejected", "line 501: field 'product' (column 2) is empty", "L01,,,5"],
                ["901", "rejected", "line 901: field 'quantity' (column 4) is missing", "L01,BOLT-8"],
            ],
        )
        self.assertEqual(base64.b64decode(batch.report_file).decode("utf-8-sig").count("\r\n"), 4)
        self._drain_all()
        states = self._messages(batch).mapped("state")
        self.assertEqual((states.count("done"), states.count("rejected")), (997, 3))
        snapshot = self.env["mfg.stock.snapshot"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(len(snapshot.line_ids), 1)  # one product and location: summed
        self.assertEqual(
            snapshot.line_ids.quantity, sum(range(1, 1001)) - 100 - 500 - 900
        )  # lines 101, 501, 901 hold 100, 500, 900

    def test_schema_errors_are_rejected_at_once_with_their_line(self):
        text = "Beleg;Artikel;Menge;Charge;Von;Nach;Zeit\r\nX;BOLT-8;-3;;WE;L01;\r\nY;BOLT-8;2;;WE;L01;\r\n"
        self._drop("MOV_neg.csv", text)
        batch = self._scan()
        self.assertEqual((batch.state, batch.rejected_count), ("error", 1))
        rejected = self._messages(batch).filtered(lambda m: m.state == "rejected")
        self.assertEqual(json.loads(rejected.headers)["line"], 2)
        self.assertIn("quantity", rejected.error_message)
        # named by its line, and reported with the line as the plant wrote it, like any other
        self.assertTrue(rejected.error_message.startswith("line 2: "), rejected.error_message)
        self.assertEqual(json.loads(rejected.payload), {"line": 2, "raw": "X;BOLT-8;-3;;WE;L01;"})
        with open(os.path.join(self.root, "error", "MOV_neg.csv.errors.csv"), encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh, delimiter=";"))
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[1][:2], ["2", "rejected"])
        self.assertEqual(rows[1][2], rejected.error_message)
        self.assertEqual(rows[1][3], "X;BOLT-8;-3;;WE;L01;")

    def test_unknown_product_fails_naming_the_code_and_retries_after_mapping(self):
        text = "Beleg;Artikel;Menge;Charge;Von;Nach;Zeit\r\nX;SCHRAUBE-9;2;;WE;L01;\r\n"
        self._drop("MOV_unknown.csv", text)
        batch = self._scan()
        self._drain_all()
        message = self._messages(batch)
        self.assertEqual(message.state, "failed")
        self.assertIn("SCHRAUBE-9", message.error_message)
        batch.action_refresh_report()
        self.assertIn("SCHRAUBE-9", base64.b64decode(batch.report_file).decode("utf-8-sig"))
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "SCHRAUBE-9",
                "target": f"product.product,{self.bolt.id}",
            }
        )
        message.action_retry()
        self._drain_all()
        self.assertEqual(message.state, "done")
        self.assertEqual(self._qty(self.bolt, self.stock), 2)

    def test_unknown_record_type_is_rejected_naming_it(self):
        self._drop("CNT0302.TXT", "DL07 BOLT-8           1.000\r\nXL07 BOLT-8           1.000\r\n")
        batch = self._scan()
        rejected = self._messages(batch).filtered(lambda m: m.state == "rejected")
        self.assertEqual(
            rejected.error_message,
            "line 2: record type 'X' is not defined in format Cycle counts (fixed width)",
        )
        self.assertEqual(
            rejected.exchange_type_id, self.env.ref("mfg_integration_base.exchange_type_unroutable")
        )

    # ------------------------------------------------------------------ completeness and idempotency
    def test_a_file_still_being_written_waits(self):
        path = self._drop("MOV_open.csv", "Beleg;Artikel;Menge;Charge;Von;Nach;Zeit\r\n", age=0)
        self.assertFalse(self._scan())
        self.assertTrue(os.path.exists(path))
        with open(path, "ab") as out:
            out.write(b"Z;BOLT-8;5;;WE;L01;\r\n")
        os.utime(path, (os.path.getmtime(path) - 30,) * 2)
        batch = self._scan()
        self.assertEqual(batch.message_count, 1)

    def test_lines_appended_between_the_read_and_the_move_are_not_moved_unread(self):
        """'Unchanged for N seconds' said the file was complete, then the plant appended: the
        file stays in the inbox and the next scan reads the rest, each line once."""
        path = self._drop("STK_grow.csv", "location,product,lot,quantity\nL01,BOLT-8,,1\nL01,BOLT-8,,2\n")
        Batch = self.registry["mfg.flatfile.batch"]
        read = Batch._mfg_read_into_messages

        def read_then_append(batch_model, *args, **kwargs):
            result = read(batch_model, *args, **kwargs)
            with open(path, "ab") as out:  # after the read, before the move
                out.write(b"L01,BOLT-8,,4\n")
            return result

        with patch.object(Batch, "_mfg_read_into_messages", read_then_append):
            batch = self._scan()
        self.assertEqual(batch.message_count, 2)
        self.assertEqual(os.listdir(self.inbox), ["STK_grow.csv"], "left for the next scan")
        self.assertEqual(self._files("processed"), [])
        self.assertFalse(batch.file_moved)
        os.utime(path, (os.path.getmtime(path) - 60,) * 2)  # unchanged long enough now
        self.assertEqual(self._scan(), batch)
        lines = sorted(json.loads(m.headers)["line"] for m in self._messages(batch))
        self.assertEqual(lines, [2, 3, 4])
        self.assertEqual(
            (batch.state, batch.message_count, batch.size), ("done", 3, os.path.getsize(batch.path))
        )
        self.assertEqual(self._files("processed"), ["STK_grow.csv"])
        self.assertFalse(os.listdir(self.inbox))

    def test_marker_rule_reads_only_marked_files_and_removes_the_marker(self):
        self.backend.flatfile_ready_rule = "marker"
        path = self._drop("MOV_m.csv", "Beleg;Artikel;Menge;Charge;Von;Nach;Zeit\r\nZ;BOLT-8;5;;WE;L01;\r\n")
        self.assertFalse(self._scan())
        self.assertTrue(os.path.exists(path))
        open(path + ".done", "w").close()
        batch = self._scan()
        self.assertEqual(batch.message_count, 1)
        self.assertFalse(os.listdir(self.inbox))

    def test_the_same_file_dropped_twice_is_applied_once(self):
        text = "Beleg;Artikel;Menge;Charge;Von;Nach;Zeit\r\nZ;BOLT-8;5;;WE;L01;\r\n"
        first = self._scan() or None
        self.assertFalse(first)
        self._drop("MOV_a.csv", text)
        batch = self._scan()
        self._drain_all()
        self._drop("MOV_a_resent.csv", text)
        again = self._scan()
        self._drain_all()
        self.assertEqual(again, batch)
        self.assertEqual(batch.drop_count, 2)
        self.assertEqual(len(self._messages(batch)), 1)
        self.assertEqual(self._qty(self.bolt, self.stock), 5)
        self.assertEqual(self._files("processed"), ["MOV_a.csv", "MOV_a_resent.csv"])

    def test_a_resumed_file_stores_each_line_once(self):
        """What a restart after a crash does: the batch says 'reading' up to some line."""
        rows = ["location,product,lot,quantity"] + [f"L01,BOLT-8,,{i}" for i in range(1, 51)]
        path = self._drop("STK_resume.csv", "\n".join(rows) + "\n")
        batch = self._scan()
        self.assertEqual(batch.message_count, 50)
        # back to the inbox, as if the process died after line 31 was committed
        os.rename(batch.path, path)
        self._messages(batch).filtered(lambda m: json.loads(m.headers)["line"] > 31).unlink()
        batch.write(
            {
                "state": "reading",
                "last_line": 31,
                "file_moved": False,
                "message_count": 30,
                "record_count": 30,
            }
        )
        self.assertEqual(self._scan(), batch)
        self.assertEqual(
            (batch.state, batch.message_count, batch.record_count, batch.duplicate_count), ("done", 50, 50, 0)
        )
        lines = sorted(json.loads(m.headers)["line"] for m in self._messages(batch))
        self.assertEqual(lines, list(range(2, 52)))

    def test_a_file_no_format_reads_goes_to_error_with_a_report(self):
        self._drop("README.pdf", b"%PDF-1.4")
        self.assertFalse(self._scan())
        self.assertEqual(self._files("error"), ["README.pdf", "README.pdf.errors.csv"])
        with open(os.path.join(self.root, "error", "README.pdf.errors.csv"), encoding="utf-8") as fh:
            self.assertIn("no file format of backend p2-legacy matches the file name README.pdf", fh.read())

    # ------------------------------------------------------------------ reconciliation
    def test_reconciliation_shows_exactly_the_differences(self):
        Quant = self.env["stock.quant"]
        nut = self.env["product.product"].create(
            {"name": "Nut", "default_code": "NUT-8", "is_storable": True}
        )
        washer = self.env["product.product"].create(
            {"name": "Washer", "default_code": "WSH-8", "is_storable": True}
        )
        Quant._update_available_quantity(self.bolt, self.stock, 100)
        Quant._update_available_quantity(nut, self.stock, 50)
        Quant._update_available_quantity(washer, self.shelf, 7)  # not in the plant's list
        lot = self.env["stock.lot"].create({"name": "CH-9", "product_id": self.steel.id})
        Quant._update_available_quantity(self.steel, self.stock, 4, lot_id=lot)
        text = "location,product,lot,quantity\nL01,BOLT-8,,100\nL01,NUT-8,,45\nL01,COIL-1,CH-9,4\nL07,BOLT-8,,3\n"
        self._drop("STK_0301.csv", text)
        batch = self._scan()
        self._drain_all()
        snapshot = self.env["mfg.stock.snapshot"].search([("name", "=", batch.correlation_id)])
        self.assertEqual(snapshot.line_count, 4)
        snapshot.action_compare()
        got = {
            (d.location_id.barcode, d.product_id.default_code, d.lot_name or ""): (
                d.plant_quantity,
                d.odoo_quantity,
            )
            for d in snapshot.difference_ids
        }
        self.assertEqual(
            got,
            {
                ("P2-STOCK" if self.stock.barcode == "P2-STOCK" else self.stock.barcode, "NUT-8", ""): (
                    45.0,
                    50.0,
                ),
                ("P2-SHELF7", "BOLT-8", ""): (3.0, 0.0),
                ("P2-SHELF7", "WSH-8", ""): (0.0, 7.0),
            },
        )
        self.assertEqual(sorted(snapshot.difference_ids.mapped("difference")), [-7.0, -5.0, 3.0])

    def test_a_column_translated_by_code_mappings(self):
        """The plant writes its own location names; a column maps them (value or record code)."""
        self.env["mfg.code.mapping"].create(
            [
                {"backend_id": self.backend.id, "kind": "other", "external_code": "LAGER-A", "value": "L01"},
                {
                    "backend_id": self.backend.id,
                    "kind": "product",
                    "external_code": "4711",
                    "target": f"product.product,{self.bolt.id}",
                },
            ]
        )
        fmt = self.snapshot_format.copy({"code": "stk-mapped", "filename_pattern": "MAP_*.csv"})
        fmt.column_ids.filtered(lambda c: c.field_name == "location").mapping_kind = "other"
        fmt.column_ids.filtered(lambda c: c.field_name == "product").mapping_kind = "product"
        self.backend.flatfile_format_ids = fmt
        self._drop("MAP_1.csv", "location,product,lot,quantity\nLAGER-A,4711,,3\nLAGER-Z,4711,,1\n")
        batch = self._scan()
        good, bad = self._messages(batch)
        self.assertEqual(json.loads(good.payload), {"location": "L01", "product": "BOLT-8", "quantity": 3.0})
        self.assertEqual(bad.state, "rejected")
        self.assertEqual(
            bad.error_message,
            "line 3: field 'location' (column 1): 'LAGER-Z' has no code mapping of kind 'other' for backend p2-legacy",
        )

    # ------------------------------------------------------------------ format screen
    def test_format_preview_of_a_sample(self):
        sample = (
            "Beleg;Artikel;Menge;Charge;Von;Nach;Zeit\r\nA;BOLT-8;1,5;;WE;L01;\r\nB;BOLT-8;x;;WE;L01;\r\n"
        )
        self.movements.sample_file = base64.b64encode(sample.encode("cp1252"))
        html = str(self.movements.preview_html)
        self.assertIn("2 records in the sample, 1 with errors", html)
        self.assertIn("legacy.stock_movement.v1", html)
        self.assertIn("&#34;quantity&#34;: 1.5", html.replace("&quot;", "&#34;"))
        self.assertIn("line 3: field &#39;quantity&#39; (column 3): &#39;x&#39; is not a number", html)

    def test_paths_are_checked(self):
        with self.assertRaisesRegex(Exception, "processed and the error folders"):
            self.env["mfg.backend"].create(
                {
                    "name": "Bad",
                    "code": "bad",
                    "flatfile_inbox_path": "/tmp/x",
                    "flatfile_processed_path": "/tmp/y",
                }
            )
