import base64
import fnmatch
from datetime import datetime

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.base.models.res_partner import _tz_get

from ..lib import flatfile
from .mfg_backend import check_server_filename

ENCODINGS = [
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 with BOM"),
    ("cp1252", "Windows-1252 (Western Europe)"),
    ("latin-1", "ISO-8859-1 (Latin-1)"),
    ("iso-8859-15", "ISO-8859-15 (Latin-9)"),
    ("cp850", "DOS code page 850"),
    ("ascii", "ASCII"),
]


class MfgFlatfileFormat(models.Model):
    """How a legacy system writes its files: CSV or fixed width, columns → canonical fields,
    and which exchange type each record type becomes."""

    _name = "mfg.flatfile.format"
    _description = "Flat-file Format"
    _order = "name"

    name = fields.Char(required=True)
    code = fields.Char(required=True, help="Short technical name, unique.")
    active = fields.Boolean(default=True)
    direction = fields.Selection(
        [("inbound", "Files from the plant"), ("outbound", "Files to the plant")],
        required=True,
        default="inbound",
    )
    kind = fields.Selection(
        [
            ("csv", "CSV (delimited)"),
            ("fixed", "Fixed width"),
            ("document", "Whole file: one document (e.g. B2MML XML)"),
        ],
        required=True,
        default="csv",
        help="Document: the whole file is one message of the exchange type, stored as it is; on a flow "
        "whose wire format is not JSON (B2MML…) it is read into its facts like a document sent by REST "
        "or MQTT.",
    )
    filename_pattern = fields.Char(
        string="File name pattern",
        default="*.csv",
        help="Inbound: files of the inbox this format reads (shell pattern, e.g. MOV_*.txt; "
        "several separated by commas). Outbound: the file name written, with strftime codes "
        "(e.g. ITEMS_%Y%m%d_%H%M%S.csv).",
    )
    encoding = fields.Selection(ENCODINGS, required=True, default="utf-8")
    delimiter = fields.Char(default=",", size=1)
    tab_delimited = fields.Boolean(help="Columns separated by TAB characters.")
    quotechar = fields.Char(string="Quote character", default='"', size=1)
    header_rows = fields.Integer(
        default=1, help="Lines before the data (the last of them names the columns, for CSV)."
    )
    decimal_separator = fields.Char(default=".", size=1, required=True)
    thousands_separator = fields.Char(size=1)
    date_format = fields.Char(default="%Y-%m-%d", required=True, help="strftime codes, e.g. %d.%m.%Y")
    datetime_format = fields.Char(default="%Y-%m-%d %H:%M:%S", required=True)
    timezone = fields.Selection(_tz_get, default="UTC", required=True, help="Time zone of the file's times.")
    record_type_index = fields.Integer(
        string="Record type column",
        help="CSV: number of the column that holds the record type (multi-record files).",
    )
    record_type_start = fields.Integer(help="Fixed width: first character of the record type.")
    record_type_length = fields.Integer(default=1)
    exchange_type_id = fields.Many2one(
        "mfg.exchange.type",
        string="Exchange type",
        help="What each record becomes (files with one record type). Multi-record files: see Record types.",
    )
    record_type_ids = fields.One2many(
        "mfg.flatfile.record.type", "format_id", string="Record types", copy=True
    )
    column_ids = fields.One2many("mfg.flatfile.column", "format_id", string="Columns", copy=True)
    sample_file = fields.Binary(attachment=True, help="Upload a file of the plant to check the format.")
    sample_filename = fields.Char()
    preview_html = fields.Html(compute="_compute_preview_html", sanitize=False)
    company_id = fields.Many2one("res.company", help="Empty: shared by every company.")

    _sql_constraints = [("code_uniq", "unique(code)", "The format code must be unique.")]

    @api.constrains("kind", "delimiter", "tab_delimited", "column_ids")
    def _check_columns(self):
        for fmt in self:
            if fmt.kind == "csv" and not fmt.tab_delimited and not fmt.delimiter:
                raise ValidationError(self.env._("Format %(f)s: a CSV format needs a delimiter.", f=fmt.name))
            for col in fmt.column_ids.filtered(lambda c: not c.constant):
                if fmt.kind == "fixed" and (col.start < 1 or col.width < 1):
                    raise ValidationError(
                        self.env._(
                            "Format %(f)s, field %(c)s: a fixed-width column needs a start (1 or more) and a "
                            "length.",
                            f=fmt.name,
                            c=col.field_name,
                        )
                    )
                if fmt.kind == "csv" and col.column_index < 1 and not col.header:
                    raise ValidationError(
                        self.env._(
                            "Format %(f)s, field %(c)s: give the column number or the column title.",
                            f=fmt.name,
                            c=col.field_name,
                        )
                    )

    @api.constrains("direction", "filename_pattern")
    def _check_outbound_filename(self):
        """An outbound format's pattern makes the name of a file in the outbox: a plain file
        name for any date (``%D`` would make folders, ``../`` would climb out)."""
        for fmt in self.filtered(lambda f: f.direction == "outbound" and f.filename_pattern):
            try:
                sample = datetime(2026, 12, 31, 23, 59, 58).strftime(fmt.filename_pattern)
            except ValueError:
                sample = fmt.filename_pattern
            if "\x00" in fmt.filename_pattern:
                sample = fmt.filename_pattern  # strftime stops at a NUL
            check_server_filename(self.env, fmt, "filename_pattern", fmt.filename_pattern, sample)

    def _mfg_spec(self):
        self.ensure_one()
        return flatfile.FormatSpec(
            kind=self.kind,
            encoding=self.encoding,
            delimiter="\t" if self.tab_delimited else (self.delimiter or ","),
            quotechar=self.quotechar or '"',
            header_rows=self.header_rows,
            decimal_separator=self.decimal_separator or ".",
            thousands_separator=self.thousands_separator or "",
            date_format=self.date_format,
            datetime_format=self.datetime_format,
            timezone=self.timezone or "UTC",
            record_type_index=self.record_type_index if self.kind == "csv" else 0,
            record_type_start=self.record_type_start if self.kind == "fixed" else 0,
            record_type_length=self.record_type_length or 1,
            columns=[
                flatfile.ColumnSpec(
                    field=col.field_name,
                    ftype=col.field_type,
                    index=col.column_index,
                    header=col.header or "",
                    start=col.start,
                    length=col.width,
                    required=col.required,
                    constant=col.constant or "",
                    record_type=col.record_type or "",
                    mapping_kind=col.mapping_kind or "",
                )
                for col in self.column_ids.sorted("sequence")
            ],
        )

    @api.model
    def _mfg_translator(self, backend):
        """translate(kind, code) with the backend's code mappings: the mapping's value, else the
        mapped record's Odoo code (the field its kind falls back to), else ValueError. The
        mappings are read once (the reader runs outside this transaction)."""
        table = self.env["mfg.code.mapping"]._mfg_value_table(backend)
        code = backend.code

        def translate(kind, text):
            try:
                return table[(kind, text)]
            except KeyError:
                raise ValueError(f"has no code mapping of kind '{kind}' for backend {code}") from None

        return translate

    def _mfg_matches(self, filename):
        self.ensure_one()
        patterns = [p.strip() for p in (self.filename_pattern or "").split(",") if p.strip()]
        return any(fnmatch.fnmatch(filename, p) for p in patterns)

    def _mfg_routes(self):
        """{record type: exchange type or False (skip)}; '' is the default of the format."""
        self.ensure_one()
        routes = {}
        if self.exchange_type_id:
            routes[""] = self.exchange_type_id
        for line in self.record_type_ids:
            routes[line.value or ""] = line.exchange_type_id if line.action == "message" else False
        return routes

    @api.depends(
        "sample_file", "column_ids", "record_type_ids", "kind", "encoding", "delimiter", "header_rows"
    )
    def _compute_preview_html(self):
        for fmt in self:
            if not fmt.sample_file or fmt.kind == "document":
                fmt.preview_html = False
                continue
            try:
                data = base64.b64decode(fmt.sample_file)
                records, total, errors = flatfile.preview(fmt._mfg_spec(), data)
            except (LookupError, ValueError) as exc:
                fmt.preview_html = Markup("<div class='alert alert-danger'>%s</div>") % str(exc)
                continue
            routes = fmt._mfg_routes()
            rows = []
            for rec in records:
                etype = routes.get(rec.record_type, routes.get(""))
                target = etype.contract if etype else ("skipped" if etype is False else "no exchange type")
                body = escape(rec.error) if rec.error else escape(_short_json(rec.values))
                css = " class='table-danger'" if rec.error else ""
                rows.append(
                    Markup("<tr%s><td>%s</td><td>%s</td><td>%s</td><td><code>%s</code></td></tr>")
                    % (Markup(css), rec.line, rec.record_type or "", target, body)
                )
            fmt.preview_html = Markup(
                "<p>%s</p><table class='table table-sm'><thead><tr><th>Line</th><th>Type</th>"
                "<th>Becomes</th><th>Canonical payload or error</th></tr></thead><tbody>%s</tbody></table>"
            ) % (
                self.env._(
                    "%(t)s records in the sample, %(e)s with errors; the first ones:", t=total, e=errors
                ),
                Markup("").join(rows),
            )


def _short_json(values):
    import json

    text = json.dumps(values, ensure_ascii=False, default=str)
    return text if len(text) < 400 else text[:400] + "…"


class MfgFlatfileRecordType(models.Model):
    _name = "mfg.flatfile.record.type"
    _description = "Flat-file Record Type"
    _order = "format_id, value"

    format_id = fields.Many2one("mfg.flatfile.format", required=True, ondelete="cascade", index=True)
    value = fields.Char(string="Record type", help="The value of the record-type column, e.g. H, D, T.")
    action = fields.Selection(
        [("message", "Becomes a message"), ("skip", "Skip (headers, trailers)")],
        required=True,
        default="message",
    )
    exchange_type_id = fields.Many2one("mfg.exchange.type", string="Exchange type")

    @api.constrains("action", "exchange_type_id")
    def _check_type(self):
        for line in self:
            if line.action == "message" and not line.exchange_type_id:
                raise ValidationError(
                    self.env._("Record type %(v)r: choose the exchange type it becomes.", v=line.value or "")
                )


class MfgFlatfileColumn(models.Model):
    _name = "mfg.flatfile.column"
    _description = "Flat-file Column"
    _order = "format_id, sequence, id"

    format_id = fields.Many2one("mfg.flatfile.format", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    field_name = fields.Char(
        string="Canonical field", required=True, help="Field of the contract, dotted for nesting (lot.name)."
    )
    field_type = fields.Selection(
        [
            ("char", "Text"),
            ("integer", "Whole number"),
            ("float", "Number"),
            ("date", "Date"),
            ("datetime", "Date and time"),
            ("boolean", "Yes/no"),
        ],
        string="Type",
        required=True,
        default="char",
    )
    column_index = fields.Integer(string="Column", help="CSV: column number, 1 = first.")
    header = fields.Char(
        string="Column title", help="CSV: the column's title in the header row (instead of a number)."
    )
    start = fields.Integer(help="Fixed width: first character, 1 = first.")
    width = fields.Integer(help="Fixed width: number of characters.")
    required = fields.Boolean()
    constant = fields.Char(
        help="A fixed value for this field instead of a column (e.g. the unit). May use {file}, {line}, "
        "{checksum} and {received_at}: e.g. message_id = {checksum}-{line}, sent_at = {received_at}."
    )
    record_type = fields.Char(help="Only for records of this type (multi-record files).")
    mapping_kind = fields.Selection(
        selection=lambda self: self.env["mfg.code.mapping"]._selection_kind(),
        string="Code mapping",
        help="Translate the file's value with the backend's code mappings of this kind (their value, or the "
        "Odoo record's code) before it goes into the message; a value without a mapping rejects the line.",
    )
