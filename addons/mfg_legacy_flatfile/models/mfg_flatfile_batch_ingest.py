import json
import logging
from collections import defaultdict
from contextlib import contextmanager, nullcontext

from odoo import api, fields, models

from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339

from ..lib import flatfile
from .mfg_flatfile_batch import CHUNK, file_digest, stamp

_logger = logging.getLogger(__name__)

DOCUMENT_MAX_BYTES = 64 * 1024 * 1024  # a whole-file document (format kind 'document')


class MfgFlatfileBatchIngest(models.Model):
    """Ingestion of a drop-folder file into messages: read in chunks of CHUNK records, one
    transaction each, resumable from the batch's last line (see mfg_flatfile_batch.py for the
    batch record, its counts and report)."""

    _inherit = "mfg.flatfile.batch"

    # ------------------------------------------------------------------ ingestion
    @contextmanager
    def _mfg_tx(self):
        """An environment on a transaction of its own, committed at the end (or, under Odoo's
        test runner, the current one)."""
        if self.env["mfg.backend"]._mfg_single_transaction():
            with nullcontext(self.env):
                yield self.env
            return
        with self.env.registry.cursor() as cr:
            yield self.env(cr=cr)

    @api.model
    def _mfg_ingest_file(self, backend, fmt, folders, name, marker=None):
        """Read one complete file of the inbox into messages, resumably, then move it to
        processed/ or error/.

        ``folders``: the backend's open inbox, processed and error folders (lib/storage.py: a
        server folder under file_roots or a folder of an SFTP host).
        The file is opened once, without following a link (a remote file is downloaded once
        into a local temporary file); the checksum, the read and the move are of that same
        content: when the file changed meanwhile (the plant appended
        lines after "unchanged for N seconds"), it stays in the inbox and the next scan reads
        what was added (same batch, from its resume point).

        Every ``CHUNK`` records are stored and the resume point is moved in one commit, so a
        crash loses nothing and a restart continues from the resume point (the external id
        ``<file checksum>:<line>`` makes a re-read line a recognised duplicate anyway).
        """
        inbox = folders["inbox"]
        with inbox.open_read(name) as fh:
            before = inbox.identity(name, fh)
            checksum, size, lines = file_digest(fh)
            with self._mfg_tx() as env:
                Batch = env["mfg.flatfile.batch"].sudo()
                batch = Batch.search([("backend_id", "=", backend.id), ("checksum", "=", checksum)], limit=1)
                if batch and batch.state != "reading" and batch.file_moved:
                    batch.drop_count += 1
                    batch.message_post(
                        body=env._(
                            "The same file was dropped again as %(name)s: recognised, not read again.",
                            name=name,
                        )
                    )
                elif not batch:
                    batch = Batch._mfg_grown_batch(backend, name, fh, size)
                    if batch:
                        batch.message_post(
                            body=env._(
                                "%(name)s grew from %(old)s to %(new)s bytes after it was read: reading on "
                                "from line %(line)s.",
                                name=name,
                                old=batch.size,
                                new=size,
                                line=batch.last_line + 1,
                            )
                        )
                        batch.write(
                            {"checksum": checksum, "size": size, "line_count": lines, "state": "reading"}
                        )
                    else:
                        batch = Batch.create(
                            {
                                "name": name,
                                "backend_id": backend.id,
                                "format_id": fmt.id,
                                "checksum": checksum,
                                "correlation_id": f"file:{checksum[:20]}",
                                "size": size,
                                "line_count": lines,
                                "path": inbox.join(name),
                                "started_at": fields.Datetime.now(),
                            }
                        )
                batch_id, state, redropped = batch.id, batch.state, batch.file_moved
            if state == "reading":
                fh.seek(0)
                self._mfg_read_into_messages(backend, fmt, fh, batch_id)
            changed = inbox.changed(name, fh, before)
        if changed:
            _logger.warning(
                "mfg flatfile: %s of backend %s changed while it was read (%s -> %s bytes): left in the inbox",
                name,
                backend.code,
                changed[0],
                changed[1],
            )
            with self._mfg_tx() as env:
                env["mfg.flatfile.batch"].sudo().browse(batch_id).message_post(
                    body=env._(
                        "%(name)s changed while it was read (%(old)s bytes, then %(new)s): left in the inbox; "
                        "the next scan reads what was added.",
                        name=name,
                        old=changed[0],
                        new=changed[1],
                    )
                )
            return batch_id
        with self._mfg_tx() as env:
            batch = env["mfg.flatfile.batch"].sudo().browse(batch_id)
            dest = folders["error"] if batch.state == "error" and not redropped else folders["processed"]
            target = inbox.move_to(name, dest, stamp())
            if marker and inbox.exists(marker):
                inbox.remove(marker)
            if batch.state == "error" and not redropped:
                report = batch._mfg_write_report()
                dest.write_file(f"{target}.errors.csv", lambda out: out.write(report))
            if not redropped:
                batch.write({"path": dest.join(target), "file_moved": True})
        return batch_id

    def _mfg_grown_batch(self, backend, name, fh, size):
        """The batch of this file name that was read but not moved because the file grew:
        its content is the start of the file now. Empty recordset if none."""
        candidates = self.search(
            [
                ("backend_id", "=", backend.id),
                ("name", "=", name),
                ("file_moved", "=", False),
                ("size", "<", size),
            ],
            order="id desc",
            limit=5,
        )
        for batch in candidates:
            fh.seek(0)
            if file_digest(fh, limit=batch.size)[0] == batch.checksum:
                return batch
        return self.browse()

    def _mfg_read_document(self, backend, fmt, fh, batch_id):
        """Store the whole open binary file ``fh`` as one message (format kind 'document'),
        unless the batch stored it already; a file above DOCUMENT_MAX_BYTES is stored rejected
        (the file itself goes to the error folder)."""
        with self._mfg_tx() as env:
            batch = env["mfg.flatfile.batch"].sudo().browse(batch_id)
            resume, correlation, prefix, name = (
                batch.last_line,
                batch.correlation_id,
                batch.checksum[:24],
                batch.name,
            )
            etype = fmt.with_env(env).exchange_type_id
            unroutable = env.ref("mfg_integration_base.exchange_type_unroutable")
        groups, counts = defaultdict(list), defaultdict(int)
        if resume < 1:
            data = fh.read(DOCUMENT_MAX_BYTES + 1)
            item = {
                "external_id": f"{prefix}:document",
                "correlation_id": correlation,
                "headers": {"file": name, "format": fmt.code},
                "payload": data,
                "document": True,
            }
            if len(data) > DOCUMENT_MAX_BYTES:
                item["payload"] = b""
                item["reject_reason"] = (
                    f"{name}: the file is larger than {DOCUMENT_MAX_BYTES:,} bytes, the most a document "
                    "file may hold; it is kept in the error folder."
                )
            if not etype:
                item["reject_reason"] = f"format {fmt.name} has no exchange type"
            counts["record_count"] = 1
            groups[(etype or unroutable).id].append((item, ""))
        self._mfg_store_chunk(backend, batch_id, groups, counts, 1, final=True)

    def _mfg_read_into_messages(self, backend, fmt, fh, batch_id):
        """Store the records of open binary file ``fh`` after the batch's resume point."""
        if fmt.kind == "document":
            return self._mfg_read_document(backend, fmt, fh, batch_id)
        with self._mfg_tx() as env:
            batch = env["mfg.flatfile.batch"].sudo().browse(batch_id)
            resume, correlation, prefix, name = (
                batch.last_line,
                batch.correlation_id,
                batch.checksum[:24],
                batch.name,
            )
            spec = fmt.with_env(env)._mfg_spec()
            spec.translate = fmt.with_env(env)._mfg_translator(backend.with_env(env))
            spec.placeholders = {
                "file": batch.name,
                "checksum": batch.checksum[:24],
                "received_at": format_rfc3339(batch.started_at or fields.Datetime.now()),
            }
            routes = {k: (v.id if v else False) for k, v in fmt.with_env(env)._mfg_routes().items()}
            typed = bool(spec.record_type_index or spec.record_type_start)
            fmt_code, fmt_name = fmt.code, fmt.name
        unroutable = self.env.ref("mfg_integration_base.exchange_type_unroutable").id
        groups = defaultdict(list)
        counts = defaultdict(int)
        pending = 0
        last_line = resume
        for rec in flatfile.read_records(spec, fh):
            if rec.line <= resume:
                continue
            counts["record_count"] += 1
            last_line = rec.line
            error = rec.error
            if rec.record_type in routes:
                etype_id = routes[rec.record_type]
            elif not typed or "" in routes:
                etype_id = routes.get("")
            else:
                etype_id = None
            if etype_id is False:
                counts["skipped_count"] += 1
                continue
            if not etype_id:
                etype_id = unroutable
                error = error or (
                    f"line {rec.line}: record type '{rec.record_type}' is not defined in format {fmt_name}"
                    if typed
                    else f"line {rec.line}: format {fmt_name} has no exchange type"
                )
            item = {
                "external_id": f"{prefix}:{rec.line}",
                "correlation_id": correlation,
                "headers": {"file": name, "line": rec.line, "format": fmt_code},
            }
            if error:
                item["payload"] = json.dumps({"line": rec.line, "raw": rec.raw}, ensure_ascii=False)
                item["reject_reason"] = error
            else:
                item["payload"] = json.dumps(rec.values, ensure_ascii=False)
            groups[etype_id].append((item, rec.raw))
            pending += 1
            if pending >= CHUNK:
                self._mfg_store_chunk(backend, batch_id, groups, counts, last_line)
                groups, counts, pending = defaultdict(list), defaultdict(int), 0
        self._mfg_store_chunk(backend, batch_id, groups, counts, last_line, final=True)

    def _mfg_store_chunk(self, backend, batch_id, groups, counts, last_line, final=False):
        with self._mfg_tx() as env:
            transport = env["mfg.transport.file"]
            etypes = env["mfg.exchange.type"].sudo()
            unroutable = env.ref("mfg_integration_base.exchange_type_unroutable")
            for etype_id, pairs in groups.items():
                etype = etypes.browse(etype_id)
                results = transport._mfg_receive(
                    backend.with_env(env).sudo(),
                    etype,
                    [item for item, _raw in pairs],
                    validate=True,
                    check_flow=etype != unroutable,
                )
                schema_rejected = []
                for (item, raw), res in zip(pairs, results, strict=True):
                    if res["duplicate"]:
                        counts["duplicate_count"] += 1
                        continue
                    counts["message_count"] += 1
                    if res["state"] == "rejected":
                        counts["rejected_count"] += 1
                        if not item.get("reject_reason") and not item.get("document"):
                            # refused by the contract's schema (a document keeps its bytes)
                            line = item["headers"]["line"]
                            schema_rejected.append(
                                (
                                    f"line {line}: {res['error']}",
                                    json.dumps({"line": line, "raw": raw}, ensure_ascii=False),
                                    res["id"],
                                )
                            )
                if schema_rejected:
                    # like every other rejected line: named by its line, stored as the plant wrote it
                    env.cr.executemany(
                        "UPDATE mfg_message SET error_message = %s, payload = %s WHERE id = %s",
                        schema_rejected,
                    )
            batch = env["mfg.flatfile.batch"].sudo().browse(batch_id)
            env.cr.execute(
                """UPDATE mfg_flatfile_batch
                      SET record_count = COALESCE(record_count, 0) + %s,
                          message_count = COALESCE(message_count, 0) + %s,
                          rejected_count = COALESCE(rejected_count, 0) + %s,
                          duplicate_count = COALESCE(duplicate_count, 0) + %s,
                          skipped_count = COALESCE(skipped_count, 0) + %s,
                          last_line = %s
                    WHERE id = %s""",
                (
                    counts["record_count"],
                    counts["message_count"],
                    counts["rejected_count"],
                    counts["duplicate_count"],
                    counts["skipped_count"],
                    last_line,
                    batch_id,
                ),
            )
            batch.invalidate_recordset()
            if final:
                batch.write(
                    {
                        "state": "error" if batch.rejected_count else "done",
                        "finished_at": fields.Datetime.now(),
                    }
                )
