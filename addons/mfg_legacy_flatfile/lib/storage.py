"""Where a backend's drop folders live: folders of the Odoo server, or folders of an SFTP host.

Pure Python (no ORM). Both kinds of folder offer the same small interface, which is all the
folder scan, the ingestion and the outbound file transport use:

``entries()`` (name, kind, size, mtime of each entry, links not followed), ``lstat(name)``,
``exists(name)``, ``remove(name)``, ``open_read(name)`` (a seekable binary file),
``identity(name, fh)`` / ``changed(name, fh, before)`` (did the file change while it was read?),
``write_file(name, write)`` (temporary name, then renamed), ``move_to(name, dest, suffix)``
(never replaces anything), ``probe_write()``, ``same_as(other)``, ``join(name)``, ``close()``.

* Local folders are ``safe_files.Folder`` of the base (under ``[mfg_integration] file_roots``,
  opened one component at a time without following a link).
* SFTP folders (paramiko) are reached only on hosts a system administrator allowed
  (``[mfg_integration] file_allowed_hosts`` and/or the system parameter
  ``mfg_integration.file_allowed_hosts``, same syntax as ``outbound_allowed_hosts``; checked on
  the resolved name and again on the connected socket), only after the host presented the key
  pinned on the backend (no pinned key, no connection: the refusal tells the key it saw), and
  their paths are walked one component at a time with ``lstat``: a symbolic link on the way, or
  in the inbox, is refused like on the server's own disk. A file is downloaded once into a
  local temporary file (streamed, read-ahead pipelined) and parsed from there, so a large file
  crosses the network once and a dropped connection costs a new download, never a duplicate:
  lines are stored only after the whole file is there, with ids ``<checksum>:<line>``.
"""

import base64
import errno
import hashlib
import io
import os
import posixpath
import secrets
import socket
import stat
import tempfile
from collections import namedtuple
from contextlib import contextmanager
from urllib.parse import quote

import paramiko

from odoo.addons.mfg_integration_base.lib.safe_files import Folder, PathRefused, check_filename
from odoo.addons.mfg_integration_base.transports.http import outbound

Entry = namedtuple("Entry", "name kind size mtime")  # kind: file | link | dir | other

CONNECT_TIMEOUT = 15  # s: TCP connect, SSH handshake and authentication
IO_TIMEOUT = 60  # s: one SFTP request without an answer = the connection is lost
DEFAULT_PORT = 22
PREFETCH_REQUESTS = (
    64  # read requests in flight while downloading (64 x 32 KiB: bounded memory, few round trips)
)


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "other"


class StorageRefused(PathRefused):
    """The remote location may not or cannot be used as configured (the text says why and
    what to do). ``kind``: ``host`` (not allowed), ``host_key`` (none pinned, or another key
    presented), ``auth`` (credentials refused or missing), ``config`` (a setting is wrong)."""


class ConnectionLost(ConnectionError):
    """The SFTP connection failed or dropped (transient: the next scan or retry tries again)."""


# ---------------------------------------------------------------------------- local folders
class LocalFolder(Folder):
    """A folder of the Odoo server under file_roots (see safe_files.Folder)."""

    def entries(self):
        result = []
        with self.scandir() as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                result.append(Entry(entry.name, _kind(st.st_mode), st.st_size, st.st_mtime))
        return result

    @staticmethod
    def identity(name, fh):
        st = os.fstat(fh.fileno())
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def changed(self, name, fh, before):
        """None when the open file and the entry ``name`` are still what ``before`` saw, else
        (size before, size now)."""
        after = self.identity(name, fh)
        try:
            st = self.lstat(name)
            same_name = (st.st_dev, st.st_ino) == before[:2]
        except FileNotFoundError:
            same_name = False
        if after == before and same_name:
            return None
        return before[2], after[2]


class LocalStorage:
    """The Odoo server's own folders."""

    label = "local"

    def open(self, value, create=False):
        return LocalFolder.open(value, create=create)

    def close(self):
        pass


# ---------------------------------------------------------------------------- SFTP
def fingerprint(key):
    """OpenSSH's SHA256 fingerprint of a paramiko public key: ``SHA256:<base64, no padding>``."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def pinned_fingerprints(text):
    """The SHA256 fingerprints a pinned host key text allows. Each line: a fingerprint as
    ``ssh-keygen -lf`` prints it (``SHA256:…``), a public key (``ssh-ed25519 AAAA…``) or a
    known_hosts line (``host ssh-ed25519 AAAA…``). StorageRefused(config) naming a line that is
    none of these."""
    result = set()
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        found = next((w for w in words if w.startswith("SHA256:")), None)
        if found:
            result.add(found.rstrip("="))
            continue
        for i, word in enumerate(words[:-1]):
            if word.startswith(("ssh-", "ecdsa-", "sk-")):
                try:
                    blob = base64.b64decode(words[i + 1], validate=True)
                except ValueError:
                    break
                digest = hashlib.sha256(blob).digest()
                result.add("SHA256:" + base64.b64encode(digest).decode().rstrip("="))
                break
        else:
            raise StorageRefused(
                f"the pinned host key line {line[:60]!r} is neither a SHA256:… fingerprint, a public key "
                "nor a known_hosts line",
                "config",
            )
    return result


def load_private_key(text, passphrase=None):
    """A paramiko private key from its PEM / OpenSSH text (RSA, ECDSA or Ed25519)."""
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase or None)
        except paramiko.PasswordRequiredException:
            raise StorageRefused(
                "the private key is encrypted: give its passphrase, or store an unencrypted key", "auth"
            ) from None
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise StorageRefused(
        "the private key cannot be read (expected an OpenSSH or PEM private key: RSA, ECDSA or Ed25519)",
        "auth",
    )


def split_remote_path(value):
    """(absolute?, [components]) of a remote folder path; StorageRefused(config) for an empty
    path, a NUL or control character, or a '..' component."""
    if not isinstance(value, str) or not value.strip():
        raise StorageRefused("the folder is empty", "config")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise StorageRefused(f"{value!r} contains a NUL or control character", "config")
    parts = [p for p in value.strip().split("/") if p not in ("", ".")]
    if ".." in parts:
        raise StorageRefused(f"{value!r}: '..' is not allowed in a remote folder", "config")
    return value.strip().startswith("/"), parts


def _io(func):
    """SFTP calls: paramiko's connection errors become ConnectionLost (an OSError)."""

    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (paramiko.SSHException, EOFError, TimeoutError) as exc:
            raise ConnectionLost(f"SFTP connection lost: {exc or type(exc).__name__}") from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


class SftpStorage:
    """One SSH connection to an allowed SFTP host whose key is pinned; opens its folders."""

    label = "sftp"

    def __init__(
        self,
        host,
        port,
        user,
        policy,
        host_key="",
        password=None,
        private_key=None,
        passphrase=None,
        connect_timeout=CONNECT_TIMEOUT,
        io_timeout=IO_TIMEOUT,
    ):
        self.host = (host or "").strip().lower().rstrip(".")
        self.port = int(port or DEFAULT_PORT)
        self.user = (user or "").strip()
        self.policy = policy
        self.host_key = host_key
        self.password = password
        self.private_key = private_key
        self.passphrase = passphrase
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        self.transport = None
        self.sftp = None

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"sftp://{quote(self.user)}@{host}:{self.port}"

    # -------------------------------------------------------------- connection
    def check_host(self):
        """StorageRefused(host) when the host is not allowed (by name and resolved addresses)."""
        if not self.host:
            raise StorageRefused("no host is set", "config")
        if not self.user:
            raise StorageRefused("no user is set", "config")
        if not 0 < self.port < 65536:
            raise StorageRefused(f"port {self.port} is not a TCP port", "config")
        host = f"[{self.host}]" if ":" in self.host else self.host
        try:
            outbound.check_url(self.policy, f"https://{host}:{self.port}/")
        except outbound.OutboundRefused as exc:
            raise StorageRefused(f"{exc.value} is not an allowed file host", "host") from None

    def connect(self):
        """Connect, check the host key, authenticate, open the SFTP channel. StorageRefused
        (refused: fix the configuration) or ConnectionLost (unreachable: try again later)."""
        if self.sftp is not None:
            return self
        self.check_host()
        pinned = pinned_fingerprints(self.host_key)
        pkey = load_private_key(self.private_key, self.passphrase) if self.private_key else None
        if pkey is None and not self.password:
            raise StorageRefused("neither a password nor a private key is set", "auth")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise ConnectionLost(f"cannot reach {self.host}:{self.port}: {exc.strerror or exc}") from exc
        transport = None
        try:
            peer = sock.getpeername()[0]
            if not outbound.address_allowed(self.policy, peer):
                raise StorageRefused(f"{self.host} → {peer} is not an allowed file host address", "host")
            transport = paramiko.Transport(sock)
            transport.banner_timeout = transport.auth_timeout = self.connect_timeout
            transport.start_client(timeout=self.connect_timeout)
            seen = fingerprint(transport.get_remote_server_key())
            if not pinned:
                raise StorageRefused(
                    f"no host key is pinned for {self.host}: the host presented {seen}. If that is the key of "
                    "your SFTP host (check with its administrator: ssh-keygen -lf on its host key), "
                    "pin it on the backend",
                    "host_key",
                )
            if seen not in pinned:
                raise StorageRefused(
                    f"{self.host} presented the host key {seen}, not the pinned one: connection refused "
                    "(a changed host or a man in the middle). Pin the new key only if its administrator "
                    "confirms it",
                    "host_key",
                )
            try:
                if pkey is not None:
                    transport.auth_publickey(self.user, pkey)
                else:
                    transport.auth_password(self.user, self.password)
            except paramiko.AuthenticationException:
                raise StorageRefused(
                    f"{self.host} refused the credentials of user {self.user}", "auth"
                ) from None
            self.sftp = paramiko.SFTPClient.from_transport(transport)
            self.sftp.get_channel().settimeout(self.io_timeout)
            self.transport = transport
        except BaseException as exc:
            if transport is not None:
                transport.close()
            sock.close()
            self.transport = self.sftp = None
            if isinstance(exc, paramiko.SSHException | EOFError | OSError):
                raise ConnectionLost(
                    f"SSH with {self.host}:{self.port} failed: {exc or type(exc).__name__}"
                ) from exc
            raise
        return self

    def close(self):
        if self.sftp is not None:
            self.sftp.close()
        if self.transport is not None:
            self.transport.close()
        self.sftp = self.transport = None

    # -------------------------------------------------------------- folders
    @_io
    def open(self, value, create=False):
        """The remote folder ``value`` (absolute, or relative to the login folder), walked one
        component at a time with lstat: a link on the way is refused (PathRefused link);
        missing components are made with ``create``, else FileNotFoundError."""
        absolute, parts = split_remote_path(value)
        self.connect()
        path = "/" if absolute else self.sftp.normalize(".")
        for part in parts:
            path = posixpath.join(path, part)
            try:
                mode = self.sftp.lstat(path).st_mode
            except FileNotFoundError:
                if not create:
                    raise
                self.sftp.mkdir(path)
                mode = self.sftp.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                raise PathRefused(f"{value!r}: {path} is a symbolic link (links are not followed)", "link")
            if not stat.S_ISDIR(mode):
                raise NotADirectoryError(errno.ENOTDIR, f"{path} is not a folder")
        return SftpFolder(self, path)


class SftpFolder:
    """A folder on an SFTP host (see SftpStorage.open)."""

    def __init__(self, storage, path):
        self.storage = storage
        self.path = path
        self._read_stats = {}

    @property
    def sftp(self):
        if self.storage.sftp is None:
            raise ConnectionLost("the SFTP connection is closed")
        return self.storage.sftp

    def _remote(self, name):
        return posixpath.join(self.path, check_filename(name))

    def join(self, name):
        return f"{self.storage.url}{posixpath.join(self.path, name)}"

    def close(self):
        """The folders of a connection share it: SftpStorage.close ends it."""

    def same_as(self, other):
        return isinstance(other, SftpFolder) and other.storage is self.storage and other.path == self.path

    @_io
    def entries(self):
        return [
            Entry(a.filename, _kind(a.st_mode or 0), a.st_size or 0, a.st_mtime or 0)
            for a in self.sftp.listdir_attr(self.path)
        ]

    @_io
    def lstat(self, name):
        return self.sftp.lstat(self._remote(name))

    def exists(self, name):
        try:
            self.lstat(name)
        except FileNotFoundError:
            return False
        return True

    @_io
    def remove(self, name):
        self.sftp.remove(self._remote(name))

    @_io
    def probe_write(self):
        remote = posixpath.join(self.path, f".mfg-probe.{secrets.token_hex(6)}.tmp")
        with self.sftp.open(remote, "wx"):
            pass
        self.sftp.remove(remote)

    @contextmanager
    def open_read(self, name):
        """The remote regular file ``name`` (not a link), downloaded once into a local temporary
        file (streamed, requests pipelined); yields that file, positioned at its start."""
        attrs = self.lstat(name)
        if stat.S_ISLNK(attrs.st_mode):
            raise PathRefused(f"{self.join(name)} is a symbolic link (links are not followed)", "link")
        if not stat.S_ISREG(attrs.st_mode):
            raise PathRefused(f"{self.join(name)} is not a regular file", "not_file")
        self._read_stats[name] = (attrs.st_size, attrs.st_mtime)
        with tempfile.TemporaryFile(prefix="mfg-sftp-") as local:
            self._download(name, attrs.st_size, local)
            local.seek(0)
            yield local

    @_io
    def _download(self, name, size, local):
        with self.sftp.open(self._remote(name), "rb") as remote:
            remote.prefetch(size, max_concurrent_requests=PREFETCH_REQUESTS)
            while block := remote.read(1 << 18):
                local.write(block)
        local.flush()

    def identity(self, name, fh):
        return self._read_stats[name]

    def changed(self, name, fh, before):
        fh.seek(0, io.SEEK_END)
        got = fh.tell()
        try:
            attrs = self.lstat(name)
            now = (attrs.st_size, attrs.st_mtime)
        except FileNotFoundError:
            now = (None, None)
        if now == before and got == before[0]:
            return None
        return before[0], now[0] if now[0] is not None else got

    @_io
    def write_file(self, name, write):
        """Create ``name`` with what ``write(binary_file)`` writes: written locally, uploaded to
        a new hidden temporary name (exclusive), then renamed over ``name``."""
        check_filename(name)
        temp = posixpath.join(self.path, f".{name[:200]}.{secrets.token_hex(6)}.tmp")
        with tempfile.TemporaryFile(prefix="mfg-sftp-") as local:
            write(local)
            local.flush()
            local.seek(0)
            try:
                with self.sftp.open(temp, "wx") as remote:
                    remote.set_pipelined(True)
                    while block := local.read(1 << 18):
                        remote.write(block)
                try:
                    self.sftp.posix_rename(temp, self._remote(name))
                except OSError:  # no posix-rename extension: replace by hand
                    if self.exists(name):
                        self.sftp.remove(self._remote(name))
                    self.sftp.rename(temp, self._remote(name))
            except BaseException:
                try:
                    self.sftp.remove(temp)
                except (OSError, paramiko.SSHException, EOFError):
                    pass
                raise
        return self.join(name)

    @_io
    def move_to(self, name, dest, suffix):
        """Rename ``name`` into ``dest`` (same host) without replacing anything there."""
        if not isinstance(dest, SftpFolder) or dest.storage is not self.storage:
            raise PathRefused("files are moved between folders of one SFTP host only", "config")
        target = name
        if dest.exists(target):
            target = f"{name}.{suffix}"
        self.sftp.rename(self._remote(name), dest._remote(target))
        return target
