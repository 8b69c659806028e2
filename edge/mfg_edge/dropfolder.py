"""The local drop folder: legacy flat files forwarded WHOLE to the backend.

The edge stays format-agnostic: the formats, the completeness rules of their content and the
idempotency by checksum + line are configured once, in Odoo (``mfg_legacy_flatfile``); the agent
only decides when a file is finished being written and forwards its bytes as one MQTT message on
``<root>/files/<file name>`` (the name percent-encoded as one topic level).

A file is complete when (``complete``):
- ``"stable"`` (default): its size and modification time are the same at two consecutive scans
  (``scan_seconds`` apart) — for writers that cannot be changed;
- ``"marker"``: a ``<name>.done`` file sits next to it (removed with it) — for writers that can.

Then: spooled (committed to disk) → moved to ``processed/``. A file bigger than ``max_file_bytes``
goes to ``error/`` with ``<name>.reason.txt``. When the spool is full the file stays where it is
(tried again at the next scan). Links are never followed (symbolic links are left alone, files
are opened with ``O_NOFOLLOW``), sub-folders are not scanned, and every path stays under the
configured folder. The message id of a file is ``file:<sha256>`` of its bytes, so a file spooled
again after a crash between the spool and the move is stored once while it is spooled (and Odoo's
checksum + line idempotency covers the rest).
"""

import hashlib
import logging
import os
import stat
import time
from pathlib import Path
from urllib.parse import quote

from .spool import SpoolFull

_logger = logging.getLogger(__name__)
MARKER = ".done"
REASON = ".reason.txt"


def file_topic(topic_root, name):
    return f"{topic_root}/files/{quote(name, safe='')}"


class DropFolder:
    def __init__(self, config, topic_root, spool, counts):
        self.folder = Path(config.path).resolve()
        self.config = config
        self.topic_root = topic_root
        self.spool = spool
        self.counts = counts  # {"forwarded", "errors", "waiting", "refused_full"}
        self._seen = {}  # name -> (size, mtime_ns) at the previous scan
        for sub in ("processed", "error"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def _candidates(self):
        names = {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    continue  # links, folders (processed/, error/), devices: never followed
                if entry.name.startswith(".") or entry.name.endswith((MARKER, REASON)):
                    continue
                st = entry.stat(follow_symlinks=False)
                names[entry.name] = (st.st_size, st.st_mtime_ns)
        return names

    def _complete(self, name, signature):
        if self.config.complete == "marker":
            marker = self.folder / (name + MARKER)
            return marker.is_file() and not marker.is_symlink()
        return self._seen.get(name) == signature

    def scan(self):
        """One pass; returns the names forwarded."""
        current = self._candidates()
        forwarded = []
        waiting = 0
        for name, signature in sorted(current.items(), key=lambda item: (item[1][1], item[0])):
            if not self._complete(name, signature):
                waiting += 1
                continue
            try:
                if self._forward(name, signature[0]):
                    forwarded.append(name)
                else:
                    waiting += 1
            except OSError as e:  # vanished, unreadable: tried again at the next scan
                _logger.warning("drop folder: %s: %s", name, e)
                waiting += 1
        self._seen = current
        self.counts["waiting"] = waiting
        return forwarded

    def _move(self, name, sub):
        target = self.folder / sub / name
        if target.exists():
            target = target.with_name(f"{name}.{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9}")
        os.replace(self.folder / name, target)
        marker = self.folder / (name + MARKER)
        if marker.is_file() and not marker.is_symlink():
            marker.unlink()
        return target

    def _forward(self, name, size):
        path = self.folder / name
        if path.resolve().parent != self.folder:
            return False
        if size > self.config.max_file_bytes:
            target = self._move(name, "error")
            target.with_name(target.name + REASON).write_text(
                f"{name}: {size} bytes, more than {self.config.max_file_bytes} (dropfolder.max_file_bytes); "
                "not forwarded\n"
            )
            self.counts["errors"] += 1
            _logger.warning("drop folder: %s is too large (%s bytes): moved to error/", name, size)
            return True
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return False
            data = f.read(self.config.max_file_bytes + 1)
        if len(data) != size:
            return False  # still being written: next scan
        digest = hashlib.sha256(data).hexdigest()
        try:
            self.spool.put(file_topic(self.topic_root, name), data, message_id=f"file:{digest}")
        except SpoolFull as e:
            self.counts["refused_full"] += 1
            _logger.warning("drop folder: %s left in place: %s", name, e)
            return False
        self._move(name, "processed")
        self.counts["forwarded"] += 1
        _logger.info(
            "drop folder: %s (%s bytes, sha256 %s) spooled, moved to processed/", name, size, digest[:12]
        )
        return True
