import io
import json
import logging

from odoo import api, fields, models

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError, MfgTransientError
from odoo.addons.mfg_integration_base.lib.safe_files import PathRefused

from ..lib import flatfile
from ..lib.storage import ConnectionLost, StorageRefused
from .mfg_backend import _refusal_text

_logger = logging.getLogger(__name__)


class MfgBackendFlow(models.Model):
    _inherit = "mfg.backend.flow"

    transport = fields.Selection(
        selection_add=[("file", "File in the outbox folder")], ondelete={"file": "set default"}
    )
    endpoint = fields.Char(
        help="Outbound: URL (HTTP), topic (MQTT) or folder (File: under the server's file roots, a relative "
        "folder under the first) for this flow; empty = the backend's default."
    )

    @api.constrains("transport", "endpoint")
    def _check_file_endpoint(self):
        """A file flow's endpoint is a folder of the backend's storage, checked like the
        backend's folders (a server folder: under a configured root)."""
        for flow in self.filtered(lambda f: f.transport == "file" and f.endpoint):
            flow.backend_id._mfg_check_flatfile_folder(flow, "endpoint", flow.endpoint)


class MfgTransportFile(models.AbstractModel):
    """Outbound file: the message's records written in its legacy format to the outbox folder.

    Payload: ``{"format": <format code>, "filename": <name>, "records": [...]}``. The folder is
    the flow's endpoint or else the backend's outbox folder. A folder that cannot be written
    (share not mounted, disk full) is a transient error: the pipeline retries with backoff.
    A folder outside the configured roots, reached through a link, or a file name that is not
    a plain file name is a permanent error: nothing is written.

    Inbound files are read by the folder scan (mfg.backend._mfg_flatfile_scan, mfg.flatfile.batch),
    which stores them through ``_mfg_receive``. The connection test checks the backend's folders.
    """

    _name = "mfg.transport.file"
    _inherit = "mfg.transport"
    _description = "Integration Transport: file in a folder"

    # Backend folders the connection test checks: (field, must it exist already?). The others are
    # created when first used.
    _TESTED_FOLDERS = (
        ("flatfile_inbox_path", True),
        ("flatfile_processed_path", False),
        ("flatfile_error_path", False),
        ("flatfile_outbox_path", False),
    )

    # ------------------------------------------------------------------ outbound
    @api.model
    def _mfg_default_endpoint(self, backend, exchange_type):
        return backend.flatfile_outbox_path

    def _mfg_send(self, message):
        backend = message.backend_id.sudo()
        folder = self._mfg_endpoint(backend, message.exchange_type_id)
        if not folder:
            raise MfgPermanentError(
                self.env._(
                    "Backend %(backend)s has no outbox folder for %(type)s: set one on the backend (Files tab).",
                    backend=backend.code,
                    type=message.exchange_type_id.contract,
                )
            )
        flow = backend._mfg_flow(message.exchange_type_id)
        if flow and flow.wire_format and flow.wire_format != "json":
            return self._mfg_send_document(message, backend, folder)
        data = json.loads(message.payload or "{}")
        fmt = self.env["mfg.flatfile.format"].sudo().search([("code", "=", data.get("format"))], limit=1)
        if not fmt:
            raise MfgPermanentError(
                self.env._("Field 'format': unknown flat-file format '%(f)s'.", f=data.get("format"))
            )
        spec = fmt._mfg_spec()
        records = data.get("records") or []

        def write(out):
            text = io.TextIOWrapper(out, encoding=spec.encoding, errors="replace", newline="")
            flatfile.write_records(spec, records, text)
            text.flush()
            text.detach()

        path = self._mfg_write_file(backend, folder, data.get("filename"), write)
        _logger.info("mfg flatfile: wrote %s records to %s", len(records), path)
        return f"wrote {len(records)} records to {path}"

    def _mfg_send_document(self, message, backend, folder):
        """A flow in a wire format (e.g. B2MML): the encoded document as one file,
        ``<contract>-<backend>-<message id>.<ext>`` (xml for an XML media type)."""
        body, content_type = message._mfg_wire_body()
        ext = "xml" if "xml" in content_type else "json" if "json" in content_type else "dat"
        filename = f"{message.exchange_type_id.contract}-{backend.code}-{message.id}.{ext}"
        path = self._mfg_write_file(backend, folder, filename, lambda out: out.write(body))
        _logger.info("mfg flatfile: wrote %s (%s bytes)", path, len(body))
        return f"wrote {len(body)} bytes to {path}"

    def _mfg_write_file(self, backend, folder, filename, write):
        """Write ``filename`` in ``folder`` of the backend's storage with ``write(binary file)``;
        returns its path. Refusals are permanent errors, I/O errors transient ones."""
        storage = None
        try:
            storage = backend._mfg_flatfile_storage()
            outbox = storage.open(folder, create=True)
            try:
                return outbox.write_file(filename, write)
            finally:
                outbox.close()
        except StorageRefused as exc:
            raise MfgPermanentError(backend._mfg_storage_refusal_text(exc)) from exc
        except PathRefused as exc:
            raise MfgPermanentError(
                self.env._(
                    "Backend %(backend)s: %(name)s is not written in %(folder)s: %(reason)s. Choose a folder under "
                    "the server's file_roots and a plain file name (outbound format's file name pattern).",
                    backend=backend.code,
                    name=repr(filename),
                    folder=folder,
                    reason=str(exc),
                )
            ) from exc
        except OSError as exc:
            raise MfgTransientError(
                self.env._(
                    "Cannot write %(name)s in %(folder)s: %(err)s",
                    name=filename,
                    folder=folder,
                    err=exc,
                )
            ) from exc
        finally:
            if storage is not None:
                storage.close()

    # ------------------------------------------------------------------ connection test
    @api.model
    def _mfg_folders(self, backend):
        """[(label, folder, must exist)]: the backend's folders and its file flows' endpoints."""
        folders = [
            (backend._fields[fname].string, backend[fname], must_exist)
            for fname, must_exist in self._TESTED_FOLDERS
            if backend[fname]
        ]
        flows = backend.flow_ids.filtered(lambda f: f.active and f.transport == "file" and f.endpoint)
        for flow in flows:
            folders.append(
                (self.env._("Endpoint of flow %(flow)s", flow=flow.display_name), flow.endpoint, False)
            )
        return folders

    @api.model
    def _mfg_is_configured(self, backend):
        return bool(self._mfg_folders(backend))

    @api.model
    def _mfg_setup_hint(self):
        return self.env._("an inbox or outbox folder (Files tab)")

    @api.model
    def _mfg_test_connection(self, backend):
        """Each folder opened as when used (under file_roots, no link followed) and written to (a
        hidden temporary file, removed at once); a folder created when first used may be missing."""
        _ = self.env._
        problems, ready = [], []
        storage = None
        try:
            storage = backend._mfg_flatfile_storage()
            for label, value, must_exist in self._mfg_folders(backend):
                self._mfg_test_folder(backend, storage, label, value, must_exist, problems, ready)
        except StorageRefused as exc:
            problems.append(backend._mfg_storage_refusal_text(exc))
        except ConnectionLost as exc:
            problems.append(_("Backend %(b)s: %(reason)s.", b=backend.code, reason=exc))
        finally:
            if storage is not None:
                storage.close()
        if problems:
            return False, _("Folders: %(problems)s", problems=" ".join(problems))
        return True, _("Folders ready: %(folders)s.", folders=", ".join(ready))

    @api.model
    def _mfg_test_folder(self, backend, storage, label, value, must_exist, problems, ready):
        """Open one folder as when used and write to it; what was found goes to ``problems`` or
        ``ready``. StorageRefused / ConnectionLost (the host itself) are left to the caller."""
        _ = self.env._
        try:
            folder = storage.open(value)
            try:
                folder.probe_write()
            finally:
                folder.close()
        except StorageRefused:
            raise
        except PathRefused as exc:
            problems.append(_refusal_text(self.env, f"Backend {backend.code}", label, value, exc))
        except FileNotFoundError:
            if must_exist:
                problems.append(
                    _(
                        "%(field)s %(value)s does not exist: create it, or check that its share is mounted.",
                        field=label,
                        value=repr(value),
                    )
                )
            else:
                ready.append(_("%(field)s %(value)s (created when first used)", field=label, value=value))
        except ConnectionLost:
            raise
        except OSError as exc:
            problems.append(
                _(
                    "%(field)s %(value)s cannot be opened or written by the Odoo server: %(error)s.",
                    field=label,
                    value=repr(value),
                    error=exc.strerror or exc,
                )
            )
        else:
            ready.append(f"{label} {value}")
