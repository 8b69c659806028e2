import base64
import csv
import hashlib
import io
import json
import logging
from datetime import datetime

from odoo import fields, models

_logger = logging.getLogger(__name__)

CHUNK = 1000  # records stored per transaction (the resume point moves by this much)


def file_digest(fh, limit=None):
    """sha256 hex digest, size and number of lines of an open binary file (from where it
    stands, up to ``limit`` bytes), streaming."""
    digest, size, lines, last = hashlib.sha256(), 0, 0, b"\n"
    while block := fh.read(1 << 20 if limit is None else min(1 << 20, limit - size)):
        digest.update(block)
        size += len(block)
        lines += block.count(b"\n")
        last = block[-1:]
    if size and last != b"\n":
        lines += 1
    return digest.hexdigest(), size, lines


def stamp():
    """Suffix of a file moved into a folder that already holds its name."""
    return f"{datetime.now():%Y%m%d%H%M%S%f}"


class MfgFlatfileBatch(models.Model):
    """One file received from a drop folder: where it went, how many lines became messages."""

    _name = "mfg.flatfile.batch"
    _description = "Flat-file Batch"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(string="File", required=True, readonly=True)
    backend_id = fields.Many2one("mfg.backend", required=True, readonly=True, ondelete="restrict", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    format_id = fields.Many2one("mfg.flatfile.format", readonly=True, ondelete="set null")
    checksum = fields.Char(
        readonly=True, help="SHA-256 of the file: the same file dropped again is recognised."
    )
    correlation_id = fields.Char(readonly=True, index=True, help="Correlation id of the file's messages.")
    size = fields.Integer(string="Size (bytes)", readonly=True)
    path = fields.Char(string="Now in", readonly=True)
    state = fields.Selection(
        [
            ("reading", "Reading"),
            ("done", "Read"),
            ("error", "Read, lines rejected"),
            ("failed", "Not read"),
        ],
        required=True,
        default="reading",
        readonly=True,
        tracking=True,
    )
    line_count = fields.Integer(string="Lines", readonly=True)
    record_count = fields.Integer(string="Records", readonly=True)
    message_count = fields.Integer(string="Stored", readonly=True, help="Records stored as messages.")
    rejected_count = fields.Integer(string="Rejected", readonly=True)
    duplicate_count = fields.Integer(string="Already received", readonly=True)
    skipped_count = fields.Integer(string="Skipped", readonly=True, help="Header / trailer records.")
    last_line = fields.Integer(readonly=True, help="Every record up to this line is stored (resume point).")
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    file_moved = fields.Boolean(readonly=True)
    drop_count = fields.Integer(
        string="Dropped", default=1, readonly=True, help="Times this file was dropped."
    )
    error_message = fields.Text(readonly=True)
    report_file = fields.Binary(string="Error report", attachment=True, readonly=True)
    report_filename = fields.Char(readonly=True)
    done_count = fields.Integer(compute="_compute_outcome")
    pending_count = fields.Integer(compute="_compute_outcome")
    failed_count = fields.Integer(compute="_compute_outcome")

    _sql_constraints = [
        ("file_uniq", "unique(backend_id, checksum)", "This file was already received by this backend."),
    ]

    def _compute_outcome(self):
        groups = {}
        if self.ids:
            self.env.cr.execute(
                """SELECT correlation_id, state, count(*) FROM mfg_message
                    WHERE correlation_id IN %s AND direction = 'inbound' GROUP BY 1, 2""",
                (tuple(self.mapped("correlation_id")) or ("",),),
            )
            for corr, state, count in self.env.cr.fetchall():
                groups.setdefault(corr, {})[state] = count
        for batch in self:
            by_state = groups.get(batch.correlation_id, {})
            batch.done_count = by_state.get("done", 0)
            batch.failed_count = sum(by_state.get(s, 0) for s in ("failed", "dead"))
            batch.pending_count = sum(
                by_state.get(s, 0) for s in ("received", "queued", "processing", "retrying")
            )

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_integration_base.action_mfg_message")
        action["domain"] = [
            ("correlation_id", "=", self.correlation_id),
            ("backend_id", "=", self.backend_id.id),
        ]
        action["context"] = {"search_default_group_state": 1}
        return action

    def action_refresh_report(self):
        """Rebuild the error report with what is known now (business failures included)."""
        for batch in self:
            batch._mfg_write_report(include_failed=True)

    def _mfg_write_report(self, include_failed=False):
        """CSV of the file's rejected (and, on request, failed) lines: line, state, reason, content.
        Stored on the batch; returns the bytes."""
        self.ensure_one()
        states = ("rejected", "failed", "dead") if include_failed else ("rejected",)
        self.env.cr.execute(
            """SELECT headers, state, error_message, payload FROM mfg_message
                WHERE correlation_id = %s AND backend_id = %s AND direction = 'inbound' AND state IN %s""",
            (self.correlation_id, self.backend_id.id, states),
        )
        rows = []
        for headers, state, error, payload in self.env.cr.fetchall():
            line = (json.loads(headers or "{}")).get("line") or 0
            content = payload
            try:
                data = json.loads(payload)
                if isinstance(data, dict) and set(data) == {"line", "raw"}:
                    content = data["raw"]
            except ValueError:
                pass
            rows.append((line, state, error or "", content))
        rows.sort()
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(["line", "state", "reason", "content"])
        writer.writerows(rows)
        data = buffer.getvalue().encode("utf-8-sig")
        self.write({"report_file": base64.b64encode(data), "report_filename": f"{self.name}.errors.csv"})
        return data
