import io

from odoo.tests import BaseCase, tagged

from ..lib import flatfile as ff


def _csv_spec(**kw):
    columns = kw.pop("columns", None) or [
        ff.ColumnSpec("product", index=1, required=True),
        ff.ColumnSpec("quantity", "float", index=2, required=True),
        ff.ColumnSpec("lot.name", index=3),
        ff.ColumnSpec("moved_at", "datetime", index=4),
    ]
    return ff.FormatSpec(columns=columns, **kw)


def _read(spec, text, encoding="utf-8"):
    return list(ff.read_records(spec, io.BytesIO(text.encode(encoding) if isinstance(text, str) else text)))


@tagged("post_install", "-at_install")
class TestFlatfileParser(BaseCase):
    def test_csv_european_numbers_dates_nesting_and_crlf(self):
        spec = _csv_spec(
            delimiter=";",
            header_rows=1,
            decimal_separator=",",
            thousands_separator=".",
            datetime_format="%d.%m.%Y %H:%M",
            timezone="Europe/Berlin",
            encoding="cp1252",
        )
        text = "Artikel;Menge;Charge;Zeit\r\nMÜHLE-1;1.234,5;L1;01.03.2026 10:00\r\nX;12,5-;;\r\n"
        recs = _read(spec, text, "cp1252")
        self.assertEqual([r.line for r in recs], [2, 3])
        self.assertEqual(
            recs[0].values,
            {
                "product": "MÜHLE-1",
                "quantity": 1234.5,
                "lot": {"name": "L1"},
                "moved_at": "2026-03-01T09:00:00Z",
            },
        )
        self.assertEqual(recs[1].values, {"product": "X", "quantity": -12.5})

    def test_csv_errors_name_line_field_column_and_value(self):
        spec = _csv_spec(header_rows=1)
        recs = _read(spec, "p,q,l,t\nA,abc,,\n,1,,\nB,2,,2026-13-01\n")
        self.assertEqual(
            [r.error for r in recs],
            [
                "line 2: field 'quantity' (column 2): 'abc' is not a number",
                "line 3: field 'product' (column 1) is empty",
                "line 4: field 'moved_at' (column 4): '2026-13-01' is not a date and time in the format "
                "%Y-%m-%d %H:%M:%S",
            ],
        )
        self.assertTrue(all(r.values is None for r in recs))

    def test_csv_quoted_delimiters_and_newlines_keep_line_numbers(self):
        spec = _csv_spec(columns=[ff.ColumnSpec("reference", index=1), ff.ColumnSpec("note", index=2)])
        recs = _read(spec, 'A,"one, two"\nB,"multi\nline"\nC,x\n')
        self.assertEqual([(r.line, r.values["reference"]) for r in recs], [(1, "A"), (2, "B"), (4, "C")])
        self.assertEqual(recs[1].values["note"], "multi\nline")

    def test_columns_by_header_title_and_constants(self):
        spec = _csv_spec(
            header_rows=1,
            columns=[
                ff.ColumnSpec("product", header="ITEM", required=True),
                ff.ColumnSpec("quantity", "integer", header="QTY"),
                ff.ColumnSpec("uom", constant="kg"),
            ],
        )
        recs = _read(spec, "QTY,ITEM\n7,P-1\n")
        self.assertEqual(recs[0].values, {"product": "P-1", "quantity": 7, "uom": "kg"})

    def test_fixed_width_with_record_types_and_bad_bytes(self):
        spec = ff.FormatSpec(
            kind="fixed",
            encoding="cp1252",
            record_type_start=1,
            record_type_length=1,
            columns=[
                ff.ColumnSpec("product", start=2, length=6, required=True, record_type="D"),
                ff.ColumnSpec("counted_quantity", "float", start=8, length=8, record_type="D"),
                ff.ColumnSpec("count_date", "date", start=2, length=10, record_type="H"),
            ],
        )
        data = "H2026-03-01\r\nDP-1      12.50\r\n".encode("cp1252") + b"DP-\x81     1.00\r\n"
        recs = list(ff.read_records(spec, io.BytesIO(data)))
        self.assertEqual([r.record_type for r in recs], ["H", "D", "D"])
        self.assertEqual(recs[0].values, {"count_date": "2026-03-01"})
        self.assertEqual(recs[1].values, {"product": "P-1", "counted_quantity": 12.5})
        self.assertEqual(recs[2].error, "line 3: bytes that are not cp1252")

    def test_write_then_read_gives_the_same_records(self):
        for kind in ("csv", "fixed"):
            columns = [
                ff.ColumnSpec("code", index=1, start=1, length=10),
                ff.ColumnSpec("qty", "float", index=2, start=11, length=10),
                ff.ColumnSpec("active", "boolean", index=3, start=21, length=1),
            ]
            spec = ff.FormatSpec(
                kind=kind, delimiter=";", decimal_separator=",", header_rows=1, columns=columns
            )
            records = [
                {"code": "A-1", "qty": 2.5, "active": True},
                {"code": "Ä;2", "qty": 10.0, "active": False},
            ]
            out = io.StringIO()
            ff.write_records(spec, records, out)
            back = _read(spec, out.getvalue())
            self.assertEqual([r.values for r in back], records, kind)

    def test_constants_with_placeholders_fill_envelope_fields(self):
        spec = _csv_spec(
            columns=[
                ff.ColumnSpec("work_order", index=1),
                ff.ColumnSpec("message_id", constant="{checksum}-{line}"),
                ff.ColumnSpec("sent_at", constant="{received_at}"),
                ff.ColumnSpec("note", constant="{unknown} stays"),
            ],
            placeholders={"checksum": "abc", "received_at": "2026-03-01T10:00:00Z", "file": "X.csv"},
        )
        recs = _read(spec, "WO-1\nWO-2\n")
        self.assertEqual(
            recs[1].values,
            {
                "work_order": "WO-2",
                "message_id": "abc-2",
                "sent_at": "2026-03-01T10:00:00Z",
                "note": "{unknown} stays",
            },
        )
