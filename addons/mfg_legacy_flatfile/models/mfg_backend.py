import csv
import io
import logging
import time

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.mfg_integration_base.lib.safe_files import (
    PathRefused,
    check_filename,
    check_folder,
    configured_roots,
)

from ..lib.storage import ConnectionLost

_logger = logging.getLogger(__name__)

TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload", ".swp", ".errors.csv")


def _refusal_text(env, where, label, value, exc):
    if exc.kind == "outside":
        return env._(
            "%(where)s, field '%(field)s': %(value)s is outside the folders this server allows for files "
            "(%(roots)s). Choose a folder under one of them (a relative folder is taken under the first), or "
            "ask the server administrator to add a root to file_roots in the [mfg_integration] section of "
            "the Odoo configuration.",
            where=where,
            field=label,
            value=repr(value),
            roots=", ".join(configured_roots()),
        )
    if exc.kind == "link":
        return env._(
            "%(where)s, field '%(field)s': %(value)s is refused: %(reason)s. Choose a folder that is not "
            "reached through a symbolic link.",
            where=where,
            field=label,
            value=repr(value),
            reason=str(exc),
        )
    return env._(
        "%(where)s, field '%(field)s': %(value)s is refused: %(reason)s. Give a plain file name (no folder, "
        "no '..').",
        where=where,
        field=label,
        value=repr(value),
        reason=str(exc),
    )


def check_server_folder(env, record, fname, value):
    """Save-time check of a server folder field: under a configured root, no link on the
    way. Returns the resolved path; ValidationError naming the record, field and value."""
    try:
        return check_folder(value)
    except PathRefused as exc:
        where = f"{record._description} {record.display_name}"
        raise ValidationError(_refusal_text(env, where, record._fields[fname].string, value, exc)) from None


def check_server_filename(env, record, fname, value, name):
    """Save-time check of a field that makes a file name (``name``, rendered from ``value``)."""
    try:
        return check_filename(name)
    except PathRefused as exc:
        where = f"{record._description} {record.display_name}"
        raise ValidationError(_refusal_text(env, where, record._fields[fname].string, value, exc)) from None


class MfgBackend(models.Model):
    _inherit = "mfg.backend"

    flatfile_inbox_path = fields.Char(
        string="Inbox folder",
        help="Folder where the plant drops its files (read by the scan every minute). Server folders lie "
        "under the roots of [mfg_integration] file_roots in the Odoo configuration; a relative folder is "
        "taken under the first root.",
    )
    flatfile_processed_path = fields.Char(
        string="Processed folder", help="Files read without error go here (under a root, like the inbox)."
    )
    flatfile_error_path = fields.Char(
        string="Error folder",
        help="Files with rejected lines go here, with their report (<file>.errors.csv). Under a root.",
    )
    flatfile_outbox_path = fields.Char(
        string="Outbox folder", help="Exports for the plant are written here (under a root)."
    )
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

    _FLATFILE_PATHS = (
        "flatfile_inbox_path",
        "flatfile_processed_path",
        "flatfile_error_path",
        "flatfile_outbox_path",
    )

    @api.constrains(*_FLATFILE_PATHS, "flatfile_storage")
    def _check_flatfile_paths(self):
        for backend in self:
            if backend.flatfile_inbox_path:
                paths = [backend.flatfile_processed_path, backend.flatfile_error_path]
                if not all(paths):
                    raise ValidationError(
                        self.env._(
                            "Backend %(b)s: with an inbox folder, give the processed and the error folders too.",
                            b=backend.name,
                        )
                    )
            resolved = {}
            for fname in self._FLATFILE_PATHS:
                if backend[fname]:
                    resolved[fname] = backend._mfg_check_flatfile_folder(backend, fname, backend[fname])
            if "flatfile_inbox_path" in resolved and resolved["flatfile_inbox_path"] in {
                resolved.get("flatfile_processed_path"),
                resolved.get("flatfile_error_path"),
            }:
                raise ValidationError(
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

    def _mfg_flatfile_open_folders(self):
        """The inbox, processed and error folders on the backend's storage (server folders
        opened from their roots, remote ones walked from the top; no link followed; processed
        and error are created if missing): {"storage", "inbox", "processed", "error"}, each with
        ``close()``. PathRefused (StorageRefused for a refused host) or OSError when one of them
        cannot be used."""
        self.ensure_one()
        storage = self._mfg_flatfile_storage()
        folders = {"storage": storage}
        try:
            folders["inbox"] = storage.open(self.flatfile_inbox_path)
            folders["processed"] = storage.open(self.flatfile_processed_path, create=True)
            folders["error"] = storage.open(self.flatfile_error_path, create=True)
            if folders["inbox"].same_as(folders["processed"]) or folders["inbox"].same_as(folders["error"]):
                raise PathRefused("the processed and error folders must differ from the inbox")
        except BaseException:
            self._mfg_flatfile_close(folders)
            raise
        return folders

    @staticmethod
    def _mfg_flatfile_close(folders):
        for key in ("inbox", "processed", "error", "storage"):
            if key in folders:
                folders[key].close()

    def _mfg_flatfile_ready_files(self, inbox):
        """([(name, marker name or None)] of the complete files of the inbox, oldest first;
        [names of symbolic links found there]). Links are never followed."""
        self.ensure_one()
        marker_suffix = self.flatfile_marker_suffix or ".done"
        entries, links = [], []
        now = time.time()
        listing = inbox.entries()
        names = {entry.name for entry in listing}
        for entry in listing:
            name = entry.name
            if name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES):
                continue
            try:
                check_filename(name)
            except PathRefused as exc:
                _logger.warning("mfg flatfile: inbox of backend %s: skipped: %s", self.code, exc)
                continue
            if entry.kind == "link":
                links.append(name)
                continue
            if entry.kind != "file":
                continue
            if self.flatfile_ready_rule == "marker":
                if name.endswith(marker_suffix):
                    continue
                marker = name + marker_suffix
                if marker not in names:
                    continue
            else:
                marker = None
            if self.flatfile_ready_rule == "stable" and now - entry.mtime < (
                self.flatfile_stable_seconds or 0
            ):
                continue
            entries.append((entry.mtime, name, marker, entry.size))
        ready = []
        for _mtime, name, marker, size in sorted(entries):
            if self.flatfile_ready_rule == "stable":
                # and not growing right now (a writer that keeps the old mtime, e.g. copy -p)
                time.sleep(0.05)
                try:
                    if inbox.lstat(name).st_size != size:
                        continue
                except FileNotFoundError:
                    continue
            ready.append((name, marker))
        return ready, links

    def _mfg_flatfile_format_for(self, filename):
        self.ensure_one()
        for fmt in self.flatfile_format_ids:
            if fmt.active and fmt.direction == "inbound" and fmt._mfg_matches(filename):
                return fmt
        return self.env["mfg.flatfile.format"]

    def _mfg_flatfile_scan(self):
        """Read every complete file of the inbox. One file at a time per backend and file:
        another worker reading the same file skips it (advisory lock held by a connection
        of its own, released if the process dies). Folders outside the configured roots or
        reached through a link are not used at all; links in the inbox are moved aside."""
        self.ensure_one()
        Batch = self.env["mfg.flatfile.batch"]
        single = self._mfg_single_transaction()
        try:
            folders = self._mfg_flatfile_open_folders()
        except PathRefused as exc:
            _logger.error("mfg flatfile: backend %s: drop folders not used, nothing read: %s", self.code, exc)
            self._mfg_flatfile_note(exc)
            return Batch
        except OSError as exc:  # not mounted, not created yet, host unreachable
            _logger.warning("mfg flatfile: backend %s: drop folders cannot be opened: %s", self.code, exc)
            self._mfg_flatfile_note(exc)
            return Batch
        done, problem = [], None
        try:
            inbox = folders["inbox"]
            ready, links = self._mfg_flatfile_ready_files(inbox)
            for name in links:
                self._mfg_flatfile_set_aside(
                    folders,
                    name,
                    None,
                    f"{name} is a symbolic link: links are never followed, put the file itself in the inbox",
                )
            for name, marker in ready:
                fmt = self._mfg_flatfile_format_for(name)
                if not fmt:
                    self._mfg_flatfile_set_aside(
                        folders,
                        name,
                        marker,
                        f"no file format of backend {self.code} matches the file name {name}",
                    )
                    continue
                lock_cr = None if single else self.env.registry.cursor()
                try:
                    if lock_cr is not None:
                        lock_cr.execute(
                            "SELECT pg_try_advisory_lock(hashtext(%s))",
                            (f"mfg_flatfile:{self.id}:{inbox.join(name)}",),
                        )
                        if not lock_cr.fetchone()[0]:
                            continue
                    if not inbox.exists(name):  # read and moved by another worker meanwhile
                        continue
                    done.append(Batch._mfg_ingest_file(self, fmt, folders, name, marker))
                except ConnectionLost:
                    raise
                except Exception:
                    _logger.exception("mfg flatfile: could not read %s for backend %s", name, self.code)
                    if single:
                        raise
                finally:
                    if lock_cr is not None:
                        lock_cr.close()
        except ConnectionLost as exc:  # listing, reading or moving: the next scan goes on
            _logger.warning("mfg flatfile: backend %s: %s; the next scan goes on", self.code, exc)
            problem = exc
            if single:
                self._mfg_flatfile_note(problem)
                raise
        finally:
            self._mfg_flatfile_close(folders)
        self._mfg_flatfile_note(problem)
        return Batch.browse(done)

    def _mfg_flatfile_set_aside(self, folders, name, marker, reason):
        """A file no format reads, or a link: to the error folder (the entry itself, a link is
        not followed) with a one-line report, never deleted."""
        from .mfg_flatfile_batch import stamp

        inbox, error = folders["inbox"], folders["error"]
        try:
            target = inbox.move_to(name, error, stamp())
            if marker and inbox.exists(marker):
                inbox.remove(marker)
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
            writer.writerows([["line", "state", "reason", "content"], [0, "rejected", reason, ""]])
            error.write_file(f"{target}.errors.csv", lambda out: out.write(buffer.getvalue().encode("utf-8")))
        except (PathRefused, OSError) as exc:
            _logger.error("mfg flatfile: could not set %s of backend %s aside: %s", name, self.code, exc)
            return None
        _logger.warning(
            "mfg flatfile: %s (backend %s): %s; moved to %s", name, self.code, reason, error.join(target)
        )
        return target
