"""Whole files from the plant's edge agent into the backend's inbox: the ``flatfile_files`` topic
claim (lib/edge_files.py) in the backend's MQTT settings, and the atomic write it calls."""

import hashlib
import logging
import os

from odoo import models

from odoo.addons.mfg_integration_base.lib import settings
from odoo.addons.mfg_integration_base.transports.mqtt import client as mqtt_client

from ..lib import edge_files
from .mfg_flatfile_batch import file_digest

_logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 2**20


def edge_file_max_bytes():
    """[mfg_integration] edge_file_max_bytes: the largest file an edge agent may forward."""
    return settings.get_int("edge_file_max_bytes", DEFAULT_MAX_BYTES, minimum=1)


class MfgBackendEdgeFiles(models.Model):
    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

    def _mfg_mqtt_settings(self):
        """The MQTT settings, with the edge files claim when the backend has an inbox: the
        listener writes the files the plant's edge agent forwards into it."""
        mqtt = super()._mfg_mqtt_settings()
        rec = self.sudo()
        if rec.flatfile_inbox_path:
            claims = dict(mqtt.get("claims") or {})
            marker = (rec.flatfile_marker_suffix or ".done") if rec.flatfile_ready_rule == "marker" else ""
            claims[edge_files.CLAIM] = (mqtt_client.topic_root(mqtt), edge_file_max_bytes(), marker)
            mqtt["claims"] = claims
        return mqtt

    def _mfg_flatfile_receive_file(self, name, payload):
        """Write ``payload`` (a whole file forwarded by the edge agent) as ``name`` into the
        inbox, atomically (a hidden temporary name, flushed to disk, renamed; on an SFTP host
        uploaded then renamed there), plus its marker when the inbox waits for markers. Not
        written when this backend already read a file with the same checksum, or the same file
        waits in the inbox; a different file under the same name is written as
        ``<stem>.<checksum prefix><ext>`` (nothing is replaced). Returns what happened (a short
        text). edge_files.FileRefused for a name or size that can never be accepted; OSError /
        PathRefused / ConnectionLost when the folders cannot be used now (the caller retries)."""
        self.ensure_one()
        backend = self.sudo()
        marker_suffix = (
            (backend.flatfile_marker_suffix or ".done") if backend.flatfile_ready_rule == "marker" else ""
        )
        name = edge_files.check_name(name, marker_suffix)  # checked again: this is the door to the disk
        edge_files.check_size(payload, edge_file_max_bytes())
        checksum = hashlib.sha256(payload).hexdigest()
        batch = (
            self.env["mfg.flatfile.batch"]
            .sudo()
            .search([("backend_id", "=", backend.id), ("checksum", "=", checksum)], limit=1)
        )
        if batch:
            return f"already read by this backend as {batch.name} (same checksum): not written again"
        folders = backend._mfg_flatfile_open_folders()
        try:
            inbox = folders["inbox"]
            target = name
            if inbox.exists(name):
                with inbox.open_read(name) as fh:
                    if file_digest(fh)[0] == checksum:
                        return f"{name} already waits in the inbox (same checksum): not written again"
                stem, ext = os.path.splitext(name)
                target = f"{stem}.{checksum[:12]}{ext}"
                if inbox.exists(target):
                    return f"{target} already waits in the inbox: not written again"
            path = inbox.write_file(target, lambda out: out.write(payload))
            if marker_suffix:
                inbox.write_file(target + marker_suffix, lambda out: None)
            if hasattr(inbox, "fd"):  # a server folder: the rename itself on disk too
                os.fsync(inbox.fd)
        finally:
            backend._mfg_flatfile_close(folders)
        _logger.info("mfg edge files: backend %s: %s written (%s bytes)", backend.code, path, len(payload))
        return f"written to {path}"

    def _mfg_edge_file_refused(self, topic, reason):
        """A file the edge agent forwarded that can never be accepted: said on the backend."""
        self.ensure_one()
        self.sudo().message_post(
            body=self.env._(
                "A file forwarded by the plant's edge agent on %(topic)s was refused: %(reason)s",
                topic=topic,
                reason=reason,
            )
        )
