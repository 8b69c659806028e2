"""A real SFTP server for the tests: paramiko's SSH server and SFTP subsystem on 127.0.0.1 and an
ephemeral port, serving one local folder as ``/`` to one user (password or public key).

Faults a test can ask for: ``drop_after_reads = N`` closes the connection when the N-th READ
request arrives (a WAN cut in the middle of a file); ``drop_on_rename = True`` closes it when
a file is to be renamed (a cut after the file was read, before it was moved). Each fault fires
once. ``stop()`` closes the listening socket and every connection and joins the threads.
"""

import base64
import hashlib
import logging
import os
import socket
import threading

import paramiko
from paramiko import SFTPAttributes, SFTPHandle, SFTPServer, SFTPServerInterface
from paramiko.sftp import SFTP_FAILURE, SFTP_OK

LOG_CHANNEL = "mfg.sftp_test_server"
logging.getLogger(LOG_CHANNEL).setLevel(logging.CRITICAL)  # the server side of cut connections


class _Auth(paramiko.ServerInterface):
    def __init__(self, server):
        self.server = server

    def get_allowed_auths(self, username):
        return "password,publickey"

    def check_auth_password(self, username, password):
        self.server.auth_attempts += 1
        ok = username == self.server.user and password == self.server.password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        self.server.auth_attempts += 1
        ok = username == self.server.user and self.server.client_key is not None
        ok = ok and key.asbytes() == self.server.client_key.asbytes()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(SFTPHandle):
    def stat(self):
        return SFTPAttributes.from_stat(os.fstat((self.readfile or self.writefile).fileno()))

    def read(self, offset, length):
        if self.fs.fault("drop_after_reads"):
            return SFTP_FAILURE
        data = super().read(offset, length)
        if isinstance(data, bytes):
            self.fs.bytes_read += len(data)
        return data


class _Files(SFTPServerInterface):
    """The served folder (paths outside it cannot be named: test code, not a product)."""

    def __init__(self, auth, *args, **kwargs):
        super().__init__(auth, *args, **kwargs)
        self.owner = auth.server
        self.bytes_read = 0
        self.owner.sessions.append(self)

    def fault(self, kind):
        return self.owner.fault(kind)

    def _local(self, path):
        return os.path.join(self.owner.root, self.canonicalize(path).lstrip("/"))

    @staticmethod
    def _errno(exc):
        return SFTPServer.convert_errno(exc.errno)

    def list_folder(self, path):
        try:
            local = self._local(path)
            out = []
            for name in os.listdir(local):
                attr = SFTPAttributes.from_stat(os.lstat(os.path.join(local, name)))
                attr.filename = name
                out.append(attr)
            return out
        except OSError as exc:
            return self._errno(exc)

    def stat(self, path):
        try:
            return SFTPAttributes.from_stat(os.stat(self._local(path)))
        except OSError as exc:
            return self._errno(exc)

    def lstat(self, path):
        try:
            return SFTPAttributes.from_stat(os.lstat(self._local(path)))
        except OSError as exc:
            return self._errno(exc)

    def open(self, path, flags, attr):
        local = self._local(path)
        try:
            fd = os.open(local, flags | getattr(os, "O_BINARY", 0), 0o666)
        except OSError as exc:
            return self._errno(exc)
        if flags & os.O_WRONLY:
            mode = "ab" if flags & os.O_APPEND else "wb"
        elif flags & os.O_RDWR:
            mode = "a+b" if flags & os.O_APPEND else "r+b"
        else:
            mode = "rb"
        handle = _Handle(flags)
        handle.fs = self
        fobj = os.fdopen(fd, mode)
        handle.readfile = fobj if "r" in mode or "+" in mode else None
        handle.writefile = fobj if mode != "rb" else None
        return handle

    def remove(self, path):
        try:
            os.remove(self._local(path))
        except OSError as exc:
            return self._errno(exc)
        return SFTP_OK

    def rename(self, oldpath, newpath):
        """SFTP v3 (as OpenSSH): never replaces an existing file."""
        if self.fault("drop_on_rename"):
            return SFTP_FAILURE
        if os.path.lexists(self._local(newpath)):
            return SFTP_FAILURE
        try:
            os.rename(self._local(oldpath), self._local(newpath))
        except OSError as exc:
            return self._errno(exc)
        return SFTP_OK

    def posix_rename(self, oldpath, newpath):
        try:
            os.rename(self._local(oldpath), self._local(newpath))
        except OSError as exc:
            return self._errno(exc)
        return SFTP_OK

    def mkdir(self, path, attr):
        try:
            os.mkdir(self._local(path))
        except OSError as exc:
            return self._errno(exc)
        return SFTP_OK


class SftpTestServer:
    """Start with ``start()``; ``port``, ``host_key`` (paramiko key) and ``fingerprint`` then tell
    a client where it is and what to pin."""

    def __init__(self, root, user="plant", password="s3cret-pass", client_key=None):
        self.root = root
        self.user = user
        self.password = password
        self.client_key = client_key
        self.host_key = paramiko.ECDSAKey.generate()
        self.faults = {}
        self.connections = 0
        self.reads = 0
        self.sessions = []  # the SFTP sessions served, each with its bytes_read
        self.auth_attempts = 0
        self._lock = threading.Lock()
        self._listener = None
        self._threads = []
        self._transports = []
        self._stopping = threading.Event()

    @property
    def fingerprint(self):
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.host_key.asbytes()).digest()).decode().rstrip(
            "="
        )

    @property
    def port(self):
        return self._listener.getsockname()[1]

    def fault(self, kind):
        """True once when the armed fault ``kind`` fires now (the connection is then closed)."""
        with self._lock:
            if kind == "drop_after_reads":
                self.reads += 1
            armed = self.faults.get(kind)
            if not armed:
                return False
            if kind == "drop_after_reads" and self.reads < armed:
                return False
            self.faults[kind] = None
        self._drop_all()
        return True

    def _drop_all(self):
        for transport in list(self._transports):
            sock = transport.sock
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def start(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        thread = threading.Thread(target=self._accept, name="sftp-test-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self):
        while not self._stopping.is_set():
            try:
                sock, _addr = self._listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(sock)
            transport.set_log_channel(LOG_CHANNEL)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", SFTPServer, _Files)
            self._transports.append(transport)
            self.connections += 1
            try:
                transport.start_server(server=_Auth(self))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()

    def stop(self):
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread
            except OSError:
                pass
            self._listener.close()
        for transport in self._transports:
            transport.close()
        for thread in self._threads:
            thread.join(timeout=10)
        for transport in self._transports:
            if transport.is_alive():
                transport.join(timeout=10)
