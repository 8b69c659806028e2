import logging
import os
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload", ".swp", ".errors.csv")


class MfgBackend(models.Model):
    _inherit = "mfg.backend"

    flatfile_inbox_path = fields.Char(
        string="Inbox folder", help="Folder where the plant drops its files (read by the scan every minute)."
    )
    flatfile_processed_path = fields.Char(string="Processed folder", help="Files read without error go here.")
    flatfile_error_path = fields.Char(
        string="Error folder",
        help="Files with rejected lines go here, with their report (<file>.errors.csv).",
    )
    flatfile_outbox_path = fields.Char(string="Outbox folder", help="Exports for the plant are written here.")
    flatfile_format_ids = fields.Many2many(
        "mfg.flatfile.format",
        string="File formats",
        domain=[("direction", "=", "inbound")],
        help="Formats of the files this plant drops; the first whose file name pattern matches reads a file.",
    )
    flatfile_ready_rule = fields.Selection(
        [
            ("stable", "Unchanged for some seconds"),
            ("marker", "A marker file next to it (e.g. FILE.csv.done)"),
            ("immediate", "At once (the plant writes a temporary name, then renames)"),
        ],
        string="A file is complete when",
        default="stable",
        required=True,
    )
    flatfile_stable_seconds = fields.Integer(
        string="Unchanged for (seconds)", default=10, help="Size and modification time unchanged this long."
    )
    flatfile_marker_suffix = fields.Char(string="Marker suffix", default=".done")
    flatfile_batch_count = fields.Integer(compute="_compute_flatfile_batch_count")

    def _compute_flatfile_batch_count(self):
        counts = dict(
            self.env["mfg.flatfile.batch"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.flatfile_batch_count = counts.get(backend, 0)

    @api.constrains("flatfile_inbox_path", "flatfile_processed_path", "flatfile_error_path")
    def _check_flatfile_paths(self):
        for backend in self.filtered("flatfile_inbox_path"):
            paths = [backend.flatfile_processed_path, backend.flatfile_error_path]
            if not all(paths):
                raise UserError(
                    self.env._(
                        "Backend %(b)s: with an inbox folder, give the processed and the error folders too.",
                        b=backend.name,
                    )
                )
            if os.path.abspath(backend.flatfile_inbox_path) in {os.path.abspath(p) for p in paths}:
                raise UserError(
                    self.env._(
                        "Backend %(b)s: the processed and error folders must differ from the inbox.",
                        b=backend.name,
                    )
                )

    def action_view_flatfile_batches(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_legacy_flatfile.action_mfg_flatfile_batch"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    def action_flatfile_scan_now(self):
        """Ask the scan cron to run now (in the background: big files take a while)."""
        self.env.ref("mfg_legacy_flatfile.ir_cron_mfg_flatfile_scan")._trigger()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": self.env._("The inbox will be read in a moment; see the Files of this backend."),
            },
        }

    # ------------------------------------------------------------------ inbox scan
    @api.model
    def _cron_mfg_flatfile_scan(self):
        for backend in self.search([("flatfile_inbox_path", "!=", False)]):
            backend._mfg_flatfile_scan()

    def _mfg_flatfile_ready_files(self):
        """(path, marker) of the inbox files that are complete, oldest first."""
        self.ensure_one()
        inbox = self.flatfile_inbox_path
        if not inbox or not os.path.isdir(inbox):
            _logger.warning("mfg flatfile: inbox %s of backend %s is not a folder", inbox, self.code)
            return []
        marker_suffix = self.flatfile_marker_suffix or ".done"
        entries = []
        now = time.time()
        with os.scandir(inbox) as it:
            for entry in it:
                name = entry.name
                if name.startswith(".") or not entry.is_file() or name.lower().endswith(TEMP_SUFFIXES):
                    continue
                if self.flatfile_ready_rule == "marker":
                    if name.endswith(marker_suffix):
                        continue
                    marker = entry.path + marker_suffix
                    if not os.path.exists(marker):
                        continue
                else:
                    marker = None
                stat = entry.stat()
                if self.flatfile_ready_rule == "stable" and now - stat.st_mtime < (
                    self.flatfile_stable_seconds or 0
                ):
                    continue
                entries.append((stat.st_mtime, entry.path, marker, stat.st_size))
        ready = []
        for _mtime, path, marker, size in sorted(entries):
            if self.flatfile_ready_rule == "stable":
                # and not growing right now (a writer that keeps the old mtime, e.g. copy -p)
                time.sleep(0.05)
                try:
                    if os.stat(path).st_size != size:
                        continue
                except FileNotFoundError:
                    continue
            ready.append((path, marker))
        return ready

    def _mfg_flatfile_format_for(self, filename):
        self.ensure_one()
        for fmt in self.flatfile_format_ids:
            if fmt.active and fmt.direction == "inbound" and fmt._mfg_matches(filename):
                return fmt
        return self.env["mfg.flatfile.format"]

    def _mfg_flatfile_scan(self):
        """Read every complete file of the inbox. One file at a time per backend and file:
        another worker reading the same file skips it (advisory lock held by a connection
        of its own, released if the process dies)."""
        self.ensure_one()
        Batch = self.env["mfg.flatfile.batch"]
        single = self._mfg_single_transaction()
        done = []
        for path, marker in self._mfg_flatfile_ready_files():
            name = os.path.basename(path)
            fmt = self._mfg_flatfile_format_for(name)
            if not fmt:
                self._mfg_flatfile_unknown_file(path, marker)
                continue
            lock_cr = None if single else self.env.registry.cursor()
            try:
                if lock_cr is not None:
                    lock_cr.execute(
                        "SELECT pg_try_advisory_lock(hashtext(%s))", (f"mfg_flatfile:{self.id}:{path}",)
                    )
                    if not lock_cr.fetchone()[0]:
                        continue
                if not os.path.exists(path):  # read and moved by another worker meanwhile
                    continue
                done.append(Batch._mfg_ingest_file(self, fmt, path, marker))
            except Exception:
                _logger.exception("mfg flatfile: could not read %s for backend %s", path, self.code)
                if single:
                    raise
            finally:
                if lock_cr is not None:
                    lock_cr.close()
        return Batch.browse(done)

    def _mfg_flatfile_unknown_file(self, path, marker):
        """A file no format reads: to the error folder with a one-line report, never deleted."""
        from .mfg_flatfile_batch import move_aside

        target = move_aside(path, self.flatfile_error_path)
        if marker and os.path.exists(marker):
            os.unlink(marker)
        with open(target + ".errors.csv", "w", encoding="utf-8") as out:
            out.write(
                "line;state;reason;content\r\n0;rejected;no file format of backend "
                f"{self.code} matches the file name {os.path.basename(path)};\r\n"
            )
        _logger.warning(
            "mfg flatfile: %s matches no format of backend %s, moved to %s", path, self.code, target
        )
