"""Run Odoo as a real server process for the end-to-end tests (no mock of Odoo)."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OdooServer:
    """An `odoo` server process on a free port, against the test database.

    Extra command-line options (``--workers=2``, ...) may be given; the server log is
    kept in ``log_path`` so a failing test can show it.
    """

    def __init__(self, odoo_bin, conf, db, log_dir, extra_args=()):
        self.odoo_bin = odoo_bin
        self.conf = conf
        self.db = db
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_dir) / f"odoo-server-{self.port}.log"
        self.extra_args = list(extra_args)
        self.proc = None

    def start(self, timeout=180):
        cmd = [
            self.odoo_bin,
            "-c",
            self.conf,
            "-d",
            self.db,
            f"--http-port={self.port}",
            f"--logfile={self.log_path}",
            *self.extra_args,
        ]
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Odoo exited with {self.proc.returncode} while starting:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.base_url + "/web/health", timeout=5) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last_error = exc
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Odoo not up after {timeout}s ({last_error}):\n{self.log_tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])
