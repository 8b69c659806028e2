"""Run Odoo as a real server process for the end-to-end tests (no mock of Odoo)."""

import ctypes
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


PR_SET_PDEATHSIG = 1


def die_with_parent():
    """``preexec_fn``: the child gets SIGKILL when the process that started it dies (Linux), so
    that a test run killed outright leaves no server behind. The signal follows the *thread*
    that forked: start such children from the main thread."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class OdooServer:
    """An `odoo` server process on a free port, against the test database.

    Extra command-line options (``--workers=2``, ...) may be given; the server log is
    kept in ``log_path`` so a failing test can show it. A server on another host (a network
    namespace, see ``netns_support``): ``prefix`` runs the command through it (``ip netns exec
    <ns>``), ``host``/``port`` are where it listens there, ``env`` adds variables,
    ``die_with_parent`` kills it with the process that started it.
    """

    def __init__(
        self,
        odoo_bin,
        conf,
        db,
        log_dir,
        extra_args=(),
        host="127.0.0.1",
        port=None,
        prefix=(),
        env=None,
        die_with_parent=False,
        name=None,
    ):
        self.odoo_bin = odoo_bin
        self.conf = conf
        self.db = db
        self.port = port or free_port()
        self.base_url = f"http://{host}:{self.port}"
        self.log_path = Path(log_dir) / f"odoo-server-{name or self.port}.log"
        self.extra_args = list(extra_args)
        self.prefix = list(prefix)
        self.env = dict(env or {})
        self.die_with_parent = die_with_parent
        self.proc = None

    def start(self, timeout=180):
        self.launch()
        return self.wait_ready(timeout)

    def launch(self):
        """Start the process without waiting for it to serve (see ``wait_ready``)."""
        cmd = [
            *self.prefix,
            self.odoo_bin,
            "-c",
            self.conf,
            "-d",
            self.db,
            f"--http-port={self.port}",
            f"--logfile={self.log_path}",
            *self.extra_args,
        ]
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent if self.die_with_parent else None,
        )
        return self

    def wait_ready(self, timeout=180):
        """Wait until /web/health answers (the process exiting or the timeout: RuntimeError)."""
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
