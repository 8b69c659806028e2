import io
import json
import logging
import os

from odoo import fields, models

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError, MfgTransientError

from ..components import flatfile

_logger = logging.getLogger(__name__)


class MfgBackendFlow(models.Model):
    _inherit = "mfg.backend.flow"

    transport = fields.Selection(
        selection_add=[("file", "File in the outbox folder")], ondelete={"file": "set default"}
    )


def write_atomically(folder, name, write):
    """Write a file the reader never sees half-written: a hidden temporary file in the same
    folder, flushed to disk, then renamed (atomic on one file system)."""
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name)
    temp = os.path.join(folder, f".{name}.tmp")
    try:
        with open(temp, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return target


class MfgTransportFile(models.AbstractModel):
    """Outbound file: the message's records written in its legacy format to the outbox folder.

    Payload: ``{"format": <format code>, "filename": <name>, "records": [...]}``. The folder is
    the flow's endpoint or else the backend's outbox folder. A folder that cannot be written
    (share not mounted, disk full) is a transient error: the pipeline retries with backoff.
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

        try:
            path = write_atomically(folder, data["filename"], write)
        except OSError as exc:
            raise MfgTransientError(
                self.env._(
                    "Cannot write %(name)s in %(folder)s: %(err)s",
                    name=data["filename"],
                    folder=folder,
                    err=exc,
                )
            ) from exc
        _logger.info("mfg flatfile: wrote %s records to %s", len(records), path)
        return f"wrote {len(records)} records to {path}"
