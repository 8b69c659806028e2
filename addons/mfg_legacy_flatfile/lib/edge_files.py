"""Whole files forwarded by a plant's edge agent: a topic claim of the MQTT listener on
``<root>/files/+`` (``<root>`` = ``<prefix>/<plant>/<system>``). Pure Python, no ORM.

The edge agent reads a plant drop folder (a file server Odoo cannot reach) and publishes each
complete file, whole, on ``<root>/files/<file name, percent-encoded>`` (QoS 1; the bridge carries
it to the centre). The claim checks the name and the size, hands the bytes to
``mfg.backend._mfg_flatfile_receive_file`` (written atomically into the backend's inbox, on the
server or on its SFTP host), and acknowledges only once the file is there; the normal folder scan
then reads it with every rule of the inbox (completeness, processed / error moves, idempotency by
checksum + line).

A file whose name or size can never be accepted is refused (logged, counted, noted on the
backend) and acknowledged: redelivering it would change nothing. A file that cannot be written
now (folder missing, SFTP host down) is kept and written again with a growing delay, in order,
and acknowledged only then (the broker stops sending past the listener's receive maximum of
unacknowledged messages: what waits in memory is bounded).
"""

import logging
import time
from urllib.parse import unquote

from odoo.addons.mfg_integration_base.lib.safe_files import PathRefused, check_filename
from odoo.addons.mfg_integration_base.transports.mqtt import claims

_logger = logging.getLogger(__name__)

CLAIM = "flatfile_files"
MAX_NAME_CHARS = 200
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload", ".swp", ".errors.csv")
RETRY_FIRST, RETRY_MAX = 1.0, 60.0


class FileRefused(ValueError):
    """This file can never be accepted (its name or its size): the text says why."""


def files_filter(root):
    return f"{root}/files/+"


def file_name(topic, marker_suffix=""):
    """The file name of ``<root>/files/<percent-encoded name>``, checked: UTF-8, a plain name
    (no folder separator, no control character), not hidden, not a name the scan skips
    (temporary suffixes, the marker suffix), at most ``MAX_NAME_CHARS`` characters."""
    level = topic.rsplit("/", 1)[-1]
    try:
        name = unquote(level, errors="strict")
    except UnicodeDecodeError:
        raise FileRefused(f"the file name {level[:80]!r} is not percent-encoded UTF-8") from None
    return check_name(name, marker_suffix)


def check_name(name, marker_suffix=""):
    """``name`` when the inbox can take it under that name, else FileRefused (see file_name)."""
    if not name:
        raise FileRefused("the topic names no file")
    if len(name) > MAX_NAME_CHARS:
        raise FileRefused(f"the file name {name[:40]!r}… is longer than {MAX_NAME_CHARS} characters")
    try:
        check_filename(name)
    except PathRefused as exc:
        raise FileRefused(str(exc)) from None
    if name.startswith("."):
        raise FileRefused(f"{name!r} is a hidden name (leading dot): the inbox scan would never read it")
    if name.lower().endswith(TEMP_SUFFIXES) or (marker_suffix and name.endswith(marker_suffix)):
        raise FileRefused(
            f"{name!r} ends like a temporary or marker file: the inbox scan would never read it"
        )
    return name


def check_size(payload, max_bytes):
    if len(payload) > max_bytes:
        raise FileRefused(
            f"the file is {len(payload):,} bytes, more than the {max_bytes:,} allowed (edge_file_max_bytes)"
        )
    if not payload:
        raise FileRefused("the file is empty")


class EdgeFileClaim(claims.TopicClaim):
    """``config``: ``(root, max_bytes, marker_suffix)`` of the backend."""

    def __init__(self, backend_id, config, services):
        super().__init__(backend_id, config, services)
        self.root, self.max_bytes, self.marker_suffix = config
        self.pending = []  # [ClaimedMessage] waiting to be written, in order
        self.next_try = 0.0
        self.delay = RETRY_FIRST
        self.stats = {"written": 0, "duplicates": 0, "refused": 0, "retries": 0}

    def filters(self):
        return [files_filter(self.root)]

    def on_message(self, item):
        self.pending.append(item)
        if len(self.pending) == 1:
            self.flush(time.monotonic())

    def tick(self, now):
        if self.pending and time.monotonic() >= self.next_try:
            self.flush(time.monotonic())

    def flush(self, now):
        """Write what waits, in order; stop at the first that cannot be written now."""
        while self.pending:
            item = self.pending[0]
            try:
                outcome = self.handle(item.topic, item.payload)
            except Exception as exc:  # storage or database away: keep it, try again later
                self.stats["retries"] += 1
                self.next_try = now + self.delay
                _logger.warning(
                    "mfg edge files: backend %s: %s not written yet (again in %.0f s): %s",
                    self.backend_id,
                    item.topic,
                    self.delay,
                    exc,
                )
                self.delay = min(self.delay * 2, RETRY_MAX)
                return
            self.delay = RETRY_FIRST
            self.pending.pop(0)
            _logger.info("mfg edge files: backend %s: %s: %s", self.backend_id, item.topic, outcome)
            self.services.ack(item)

    def handle(self, topic, payload):
        """Check and write one file; returns what happened (a short text). FileRefused files are
        reported and not raised (acknowledged: they can never be accepted); anything else that
        goes wrong is raised (kept, retried)."""
        try:
            name = file_name(topic, self.marker_suffix)
            check_size(payload, self.max_bytes)
            outcome = self.services.in_db(
                lambda env: env["mfg.backend"]
                .browse(self.backend_id)
                ._mfg_flatfile_receive_file(name, payload)
            )
        except FileRefused as exc:  # also when the backend's own check refuses it
            return self._refuse(topic, str(exc))
        self.stats["written" if outcome.startswith("written") else "duplicates"] += 1
        return outcome

    def _refuse(self, topic, reason):
        self.stats["refused"] += 1
        _logger.warning("mfg edge files: backend %s: %s refused: %s", self.backend_id, topic, reason)
        try:
            self.services.in_db(
                lambda env: env["mfg.backend"].browse(self.backend_id)._mfg_edge_file_refused(topic, reason)
            )
        except Exception:
            _logger.exception("mfg edge files: backend %s: the refusal could not be noted", self.backend_id)
        return f"refused: {reason}"

    def stop(self):
        if self.pending:
            _logger.warning(
                "mfg edge files: backend %s: %s file(s) not written, not acknowledged: the broker sends them again",
                self.backend_id,
                len(self.pending),
            )


claims.register(CLAIM, EdgeFileClaim)
