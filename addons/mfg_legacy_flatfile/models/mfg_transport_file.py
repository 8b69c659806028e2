import io
import json
import logging

from odoo import api, fields, models

from odoo.addons.mfg_integration_base.components.safe_files import Folder, PathRefused
from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError, MfgTransientError

from ..components import flatfile
from .mfg_backend import check_server_folder

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
        """A file flow's endpoint is a server folder: under a configured root, like the
        backend's folders."""
        for flow in self.filtered(lambda f: f.transport == "file" and f.endpoint):
            check_server_folder(self.env, flow, "endpoint", flow.endpoint)


class MfgTransportFile(models.AbstractModel):
    """Outbound file: the message's records written in its legacy format to the outbox folder.

    Payload: ``{"format": <format code>, "filename": <name>, "records": [...]}``. The folder is
    the flow's endpoint or else the backend's outbox folder. A folder that cannot be written
    (share not mounted, disk full) is a transient error: the pipeline retries with backoff.
    A folder outside the configured roots, reached through a link, or a file name that is not
    a plain file name is a permanent error: nothing is written.
    """

    _name = "mfg.transport.file"
    _inherit = "mfg.transport"
    _description = "Integration Transport: file in a folder"

    def _mfg_send(self, message):
        backend = message.backend_id.sudo()
        flow = backend._mfg_flow(message.exchange_type_id)
        folder = (flow.endpoint if flow and flow.endpoint else "") or backend.flatfile_outbox_path
        data = json.loads(message.payload or "{}")
        if not folder:
            raise MfgPermanentError(
                self.env._(
                    "Backend %(backend)s has no outbox folder for %(type)s: set one on the backend (Files tab).",
                    backend=backend.code,
                    type=message.exchange_type_id.contract,
                )
            )
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

        filename = data.get("filename")
        try:
            with Folder.open(folder, create=True) as outbox:
                path = outbox.write_file(filename, write)
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
        _logger.info("mfg flatfile: wrote %s records to %s", len(records), path)
        return f"wrote {len(records)} records to {path}"
