"""Server folders and files that Odoo users may name, confined to configured roots.

Pure Python (no ORM). Every server folder or file an Odoo user may name (a drop-folder
backend's inbox, processed, error and outbox folders, a ``file`` flow's endpoint, a legacy
MQTT TLS file path of a backend) must lie under one of the roots listed in
``[mfg_integration] file_roots`` of the Odoo configuration (default: ``mfg_files`` under
Odoo's ``data_dir``). Roots are the server administrator's choice; nobody sets a path
outside them from the UI.

* ``check_folder`` / ``check_file`` are the save-time checks: resolved (``realpath``) and
  compared with ``commonpath``; a relative path is taken under the first root.
* ``Folder.open`` / ``read_file`` are the use-time checks: the folder is opened from its root
  one component at a time with ``O_NOFOLLOW``, so no symbolic link (planted after the save,
  or anywhere along the way) is followed; every file operation then goes through that
  directory descriptor.
* Files are opened with ``O_NOFOLLOW`` (a link in the inbox is never read), reports and
  exports are created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` under a temporary name and
  renamed (a link planted at the final name is replaced, its target never written).
"""

import errno
import os
import secrets
import stat

from odoo.tools import config

from . import settings

DEFAULT_ROOT = "mfg_files"  # under data_dir, when [mfg_integration] file_roots is not set
MAX_NAME_BYTES = 255

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PathRefused(ValueError):
    """A folder or file name that the drop-folder transport refuses (the text says why).
    ``kind``: ``outside`` (not under a root), ``link`` (a symbolic link on the way),
    ``name`` (not a plain file name), ``not_file`` (not a regular file)."""

    def __init__(self, text, kind="name"):
        super().__init__(text)
        self.kind = kind


def configured_roots():
    """The folders under which drop folders may lie, absolute and normalised, in the order
    configured. The one place that reads ``[mfg_integration] file_roots`` (comma- or
    newline-separated absolute paths)."""
    raw = settings.get_str("file_roots")
    roots = []
    for item in raw.replace("\n", ",").split(","):
        item = item.strip()
        if item and os.path.isabs(item) and "\x00" not in item:
            roots.append(os.path.normpath(item))
    if not roots:
        roots.append(os.path.join(os.path.normpath(config["data_dir"]), DEFAULT_ROOT))
    return roots


def check_filename(name):
    """``name`` if it is a plain file name: no folder separator, not ``.``/``..``, no NUL or
    control character, at most 255 bytes; else PathRefused."""
    if not isinstance(name, str) or not name:
        raise PathRefused("the file name is empty")
    if "/" in name or "\\" in name:
        raise PathRefused(f"{name!r} is not a file name: it contains a folder separator")
    if name in (".", ".."):
        raise PathRefused(f"{name!r} is not a file name")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise PathRefused(f"{name!r} contains a NUL or control character")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise PathRefused(f"{name[:40]!r}… is longer than {MAX_NAME_BYTES} bytes")
    return name


def _locate(value, roots):
    """(root as configured, its real path, the components below it) of ``value``, checked
    lexically: ``..`` cannot climb out, a relative value lies under the first root."""
    if not isinstance(value, str) or not value.strip():
        raise PathRefused("the folder is empty", "outside")
    if "\x00" in value:
        raise PathRefused(f"{value!r} contains a NUL character", "outside")
    candidate = os.path.normpath(value if os.path.isabs(value) else os.path.join(roots[0], value))
    for root in roots:
        real_root = os.path.realpath(root)
        for base in (root, real_root):
            if os.path.commonpath([candidate, base]) == base:
                rel = os.path.relpath(candidate, base)
                parts = [] if rel == "." else rel.split(os.sep)
                if any(p in ("", ".", "..") for p in parts):  # cannot happen after normpath
                    break
                return root, real_root, parts
    raise PathRefused(f"{value!r} is outside the folders this server allows ({', '.join(roots)})", "outside")


def check_folder(value, roots=None):
    """Save-time check of a folder: its resolved path (symbolic links followed by
    ``realpath``) must stay under its root, and no existing component below the root may be
    a symbolic link (the use-time opening refuses links). Returns the resolved path."""
    roots = roots or configured_roots()
    _root, real_root, parts = _locate(value, roots)
    path = real_root
    for part in parts:
        path = os.path.join(path, part)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise PathRefused(f"{value!r}: {path} is a symbolic link (links are not followed)", "link")
        except (FileNotFoundError, NotADirectoryError):
            break  # created on first use (or refused then, when a file is in the way)
    resolved = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([resolved, real_root]) != real_root:
        raise PathRefused(f"{value!r} leads outside {real_root}", "outside")
    return resolved


def check_file(value, roots=None):
    """Save-time check of a file path: a plain file name in a folder that passes
    ``check_folder``, the file itself not a symbolic link (it may not exist yet). Returns the
    resolved path."""
    roots = roots or configured_roots()
    if isinstance(value, str) and value.endswith(("/", os.sep)):
        raise PathRefused(f"{value!r} is a folder, not a file", "name")
    _root, _real_root, parts = _locate(value, roots)
    if not parts:
        raise PathRefused(f"{value!r} is a folder, not a file", "name")
    check_filename(parts[-1])
    return check_folder(value, roots)


def read_file(value, max_bytes, roots=None):
    """Use-time read of the regular file ``value`` under the roots: its folder opened with
    ``Folder.open`` (no link followed on the way), the file with ``O_NOFOLLOW``. Returns its
    bytes; PathRefused when outside the roots, a link, not a regular file or larger than
    ``max_bytes``; OSError (e.g. FileNotFoundError) otherwise."""
    roots = roots or configured_roots()
    _root, real_root, parts = _locate(value, roots)
    if not parts:
        raise PathRefused(f"{value!r} is a folder, not a file", "name")
    name = check_filename(parts[-1])
    with Folder.open(os.path.join(real_root, *parts[:-1]), roots=roots) as folder:
        with folder.open_read(name) as handle:
            data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PathRefused(f"{value!r} is larger than {max_bytes} bytes", "not_file")
    return data


class Folder:
    """An open directory under a root; every operation is relative to its descriptor."""

    def __init__(self, fd, path):
        self.fd = fd
        self.path = path

    @classmethod
    def open(cls, value, create=False, roots=None):
        """Open folder ``value`` from its root, one component at a time, never following a
        symbolic link; with ``create``, missing components are made. PathRefused when the
        folder is outside the roots or reached through a link; OSError otherwise."""
        roots = roots or configured_roots()
        _root, real_root, parts = _locate(value, roots)
        if create:
            os.makedirs(real_root, exist_ok=True)
        fd = os.open(real_root, _DIR_FLAGS & ~os.O_NOFOLLOW)
        path = real_root
        try:
            for part in parts:
                if create:
                    try:
                        os.mkdir(part, 0o777, dir_fd=fd)
                    except FileExistsError:
                        pass
                try:
                    sub = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(fd, part):
                        raise PathRefused(
                            f"{value!r}: {os.path.join(path, part)} is a symbolic link (links are not followed)",
                            "link",
                        ) from None
                    raise
                os.close(fd)
                fd = sub
                path = os.path.join(path, part)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, path)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def join(self, name):
        return os.path.join(self.path, name)

    def same_as(self, other):
        a, b = os.fstat(self.fd), os.fstat(other.fd)
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def scandir(self):
        return os.scandir(self.fd)

    def lstat(self, name):
        return os.stat(check_filename(name), dir_fd=self.fd, follow_symlinks=False)

    def exists(self, name):
        try:
            self.lstat(name)
        except FileNotFoundError:
            return False
        return True

    def remove(self, name):
        os.unlink(check_filename(name), dir_fd=self.fd)

    def probe_write(self):
        """Create and remove a hidden temporary file here (as ``write_file`` would): OSError
        (e.g. PermissionError, a read-only share) when this folder cannot be written."""
        name = f".mfg-probe.{secrets.token_hex(6)}.tmp"
        os.close(os.open(name, _CREATE_FLAGS, 0o600, dir_fd=self.fd))
        os.unlink(name, dir_fd=self.fd)

    def open_read(self, name):
        """The regular file ``name``, opened for binary reading without following a link."""
        try:
            fd = os.open(check_filename(name), _READ_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PathRefused(
                    f"{self.join(name)} is a symbolic link (links are not followed)", "link"
                ) from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise PathRefused(f"{self.join(name)} is not a regular file", "not_file")
        return os.fdopen(fd, "rb")

    def write_file(self, name, write):
        """Create ``name`` with what ``write(binary_file)`` writes: a new hidden temporary
        file (O_EXCL | O_NOFOLLOW) in this folder, flushed to disk, then renamed over
        ``name`` (atomic; an existing link at ``name`` is replaced, its target untouched).
        Returns the full path."""
        check_filename(name)
        temp = f".{name[:200]}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temp, _CREATE_FLAGS, 0o666, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.rename(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=self.fd)
            except FileNotFoundError:
                pass
            raise
        return self.join(name)

    def move_to(self, name, dest, suffix):
        """Move ``name`` (the entry itself: a link is moved, not followed) into folder
        ``dest`` without replacing anything there: under its own name, or with ``suffix``
        appended when that name is taken. Across file systems the content is copied to a
        new exclusive file and the original removed. Returns the new name."""
        check_filename(name)
        target = name
        if dest.exists(target):
            target = f"{name}.{suffix}"
        try:
            os.rename(name, target, src_dir_fd=self.fd, dst_dir_fd=dest.fd)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            with self.open_read(name) as src:
                out_fd = os.open(target, _CREATE_FLAGS, 0o666, dir_fd=dest.fd)
                with os.fdopen(out_fd, "wb") as out:
                    while block := src.read(1 << 20):
                        out.write(block)
                    out.flush()
                    os.fsync(out.fileno())
            os.unlink(name, dir_fd=self.fd)
        return target


def _is_link(dir_fd, name):
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
