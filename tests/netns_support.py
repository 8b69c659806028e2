"""Several hosts on one machine: Linux network namespaces made (and removed) by a test or bench.

``NetLab`` builds one private LAN, all of it on this machine::

    root namespace: PostgreSQL (127.0.0.1:5432 only), the test process, the forwarders below
        mso<pid>r  198.18.K.254/24 ──────────────┐ veth
    mfgso<pid>-net  (the broker's host, and the LAN's switch: bridge msobr)
        msobr 198.18.K.1/24  ◀── the broker listens here
        ├── veth ── mfgso<pid>-a    198.18.K.2/24  (own loopback: its Odoo, its runner, its listener)
        └── veth ── mfgso<pid>-b    198.18.K.3/24
                     ...

198.18.0.0/15 is the range reserved for benchmarking network devices (RFC 2544): it is never routed,
and K is chosen so that no address of the root namespace is in 198.18.K.0/24. Nothing is forwarded
between interfaces (no sysctl is changed): the hosts reach PostgreSQL through ``TcpForwarder`` (socat
in the root namespace, bound to 198.18.K.254, forwarding to 127.0.0.1:5432) and each other only by
their LAN addresses. The machine's services are not reconfigured.

Removal, whatever happens: ``NetLab.close()`` (call it from a finalizer) kills what was started in
the lab, deletes the root end of the LAN (which removes its pair) and the namespaces; processes
started by ``spawn`` (and the servers started with ``die_with_parent``) die with the test process
when it is killed outright, and ``sweep_stale()`` (run by every new lab) removes the namespaces and
links left by a lab whose process is gone. Names carry the owner's pid: ``mfgso<pid>-<role>``
(namespaces), ``mso<pid>...`` (links).
"""

import contextlib
import fcntl
import ipaddress
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from odoo_process import die_with_parent

NS_PREFIX = "mfgso"
LINK_PREFIX = "mso"
LAB_RANGE = ipaddress.ip_network("198.18.0.0/16")  # half of RFC 2544's 198.18.0.0/15
NS_NAME = re.compile(rf"^{NS_PREFIX}(\d+)-[a-z0-9]+$")
LINK_NAME = re.compile(rf"^{LINK_PREFIX}(\d+)[a-z]+\d*$")
LOCK_FILE = Path(tempfile.gettempdir()) / "mfg-netlab.lock"


def run(*args, check=True, timeout=30):
    """Run a command; on failure, raise with its output."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def netns_unavailable():
    """None when this process may create network namespaces and veth pairs; else why not."""
    if not shutil.which("ip"):
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (`ip netns add` is not permitted)"
    probe = f"{NS_PREFIX}{os.getpid()}-probe"
    result = run("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"`ip netns add` is not permitted here: {result.stderr.strip()}"
    run("ip", "netns", "del", probe, check=False)
    return None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _namespaces():
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _links():
    out = run("ip", "-o", "link", "show", check=False).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 1:
            names.append(parts[1].strip().split("@")[0])
    return names


def _kill_pids_in(ns):
    for pid in run("ip", "netns", "pids", ns, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def sweep_stale():
    """Remove the namespaces and root links of labs whose process is gone (a run killed
    outright). Returns the names removed. Labs of live processes are left alone."""
    removed = []
    for ns in _namespaces():
        match = NS_NAME.match(ns)
        if match and not pid_alive(int(match.group(1))):
            _kill_pids_in(ns)
            run("ip", "netns", "del", ns, check=False)
            removed.append(ns)
    for link in _links():
        match = LINK_NAME.match(link)
        if match and not pid_alive(int(match.group(1))):
            run("ip", "link", "del", link, check=False)
            removed.append(link)
    return removed


def our_namespaces(pid=None):
    """The lab namespaces of process ``pid`` (default: this one) that exist now."""
    pid = os.getpid() if pid is None else pid
    return [ns for ns in _namespaces() if ns.startswith(f"{NS_PREFIX}{pid}-")]


def spawn(cmd, log_path, prefix=(), env=None):
    """A child process in its own session (killed with its group), dying with this process."""
    log = open(log_path, "ab")  # handed to the child, closed here once it has it
    try:
        return subprocess.Popen(
            [*prefix, *cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
            preexec_fn=die_with_parent,
        )
    finally:
        log.close()


def kill_group(proc, sig=signal.SIGKILL, timeout=15):
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class NetLab:
    """A LAN of network namespaces: ``hub`` (the broker's host, with the LAN's bridge) and one
    namespace per role of ``roles``; the root namespace is on the LAN too (``root_addr``)."""

    def __init__(self, roles=("a", "b"), hub="net"):
        self.pid = os.getpid()
        self.hub = hub
        self.roles = list(roles)
        self.ns = {role: f"{NS_PREFIX}{self.pid}-{role}" for role in [hub, *self.roles]}
        self.root_link = f"{LINK_PREFIX}{self.pid}r"
        self.subnet = None
        self.addr = {}
        self.root_addr = None
        self._made_ns = []
        self._made_root_link = False
        self._procs = []

    # ------------------------------------------------------------------ building
    def start(self):
        sweep_stale()
        try:
            with open(LOCK_FILE, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # two labs never pick the same subnet
                self.subnet = self._free_subnet()
                hosts = list(self.subnet.hosts())
                self.addr = {self.hub: str(hosts[0])}
                for i, role in enumerate(self.roles):
                    self.addr[role] = str(hosts[1 + i])
                self.root_addr = str(hosts[253])  # .254
                self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _free_subnet(self):
        used = set()
        for line in run("ip", "-o", "-4", "addr", "show", check=False).stdout.splitlines():
            match = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", line)
            if match and ipaddress.ip_address(match.group(1)) in LAB_RANGE:
                used.add(ipaddress.ip_network(f"{match.group(1)}/24", strict=False))
        for route in run("ip", "-4", "route", "show", check=False).stdout.splitlines():
            target = route.split()[0] if route.strip() else ""
            with contextlib.suppress(ValueError):
                net = ipaddress.ip_network(target, strict=False)
                if net.overlaps(LAB_RANGE):
                    used.add(net)
        start = self.pid % 250
        for i in range(250):
            candidate = ipaddress.ip_network(f"198.18.{1 + (start + i) % 250}.0/24")
            if not any(candidate.overlaps(u) for u in used):
                return candidate
        raise RuntimeError(f"no free /24 left in {LAB_RANGE} on this machine")

    def _ns_add(self, role):
        run("ip", "netns", "add", self.ns[role])
        self._made_ns.append(self.ns[role])
        self.exec(role, "ip", "link", "set", "lo", "up")

    def _build(self):
        hub = self.hub
        prefix_len = self.subnet.prefixlen
        self._ns_add(hub)
        self.exec(hub, "ip", "link", "add", "msobr", "type", "bridge")
        self.exec(hub, "ip", "addr", "add", f"{self.addr[hub]}/{prefix_len}", "dev", "msobr")
        self.exec(hub, "ip", "link", "set", "msobr", "up")
        # the root namespace's leg on the LAN (its address is where the forwarders listen)
        peer = f"{LINK_PREFIX}{self.pid}rp"
        run("ip", "link", "add", self.root_link, "type", "veth", "peer", "name", peer)
        self._made_root_link = True
        self._plug(peer)
        run("ip", "addr", "add", f"{self.root_addr}/{prefix_len}", "dev", self.root_link)
        run("ip", "link", "set", self.root_link, "up")
        for i, role in enumerate(self.roles):
            self._ns_add(role)
            inside, outside = f"{LINK_PREFIX}{self.pid}h{i}", f"{LINK_PREFIX}{self.pid}p{i}"
            run("ip", "link", "add", inside, "type", "veth", "peer", "name", outside)
            run("ip", "link", "set", inside, "netns", self.ns[role])
            self._plug(outside)
            self.exec(role, "ip", "addr", "add", f"{self.addr[role]}/{prefix_len}", "dev", inside)
            self.exec(role, "ip", "link", "set", inside, "up")
        self._wait_reachable()

    def _plug(self, link):
        """Move ``link`` into the hub and attach it to the bridge."""
        run("ip", "link", "set", link, "netns", self.ns[self.hub])
        self.exec(self.hub, "ip", "link", "set", link, "master", "msobr")
        self.exec(self.hub, "ip", "link", "set", link, "up")

    def _wait_reachable(self, timeout=10):
        """The bridge forwards once its ports are up: wait until each host reaches the root
        namespace's address (a TCP connection refused counts as reached)."""
        deadline = time.monotonic() + timeout
        for role in self.roles:
            while True:
                probe = run(
                    *self.prefix(role),
                    "python3",
                    "-c",
                    "import socket,sys\n"
                    "try: socket.create_connection((sys.argv[1], 9), timeout=1).close()\n"
                    "except ConnectionRefusedError: pass\n",
                    self.root_addr,
                    check=False,
                )
                if probe.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"host {role} cannot reach {self.root_addr}: {probe.stderr.strip()}")
                time.sleep(0.2)

    # ------------------------------------------------------------------ using
    def prefix(self, role):
        """Command prefix that runs a command in ``role``'s namespace."""
        return ["ip", "netns", "exec", self.ns[role]]

    def exec(self, role, *args, check=True):
        return run(*self.prefix(role), *args, check=check)

    def spawn(self, role, cmd, log_path, env=None):
        """A long-running process in ``role``'s namespace (None: the root namespace), killed by
        ``close()``."""
        proc = spawn(cmd, log_path, prefix=self.prefix(role) if role else (), env=env)
        self._procs.append(proc)
        return proc

    @property
    def processes(self):
        """The processes started with ``spawn`` (still to be killed by ``close``)."""
        return list(self._procs)

    # ------------------------------------------------------------------ removing
    def close(self):
        """Kill what runs in the lab, remove its links and namespaces. Idempotent; never raises
        for what is already gone."""
        for proc in self._procs:
            kill_group(proc)
        self._procs = []
        for ns in self._made_ns:
            _kill_pids_in(ns)
        if self._made_root_link:
            run("ip", "link", "del", self.root_link, check=False)
            self._made_root_link = False
        for ns in reversed(self._made_ns):
            run("ip", "netns", "del", ns, check=False)
        self._made_ns = []
        left = our_namespaces(self.pid)
        if left:
            raise RuntimeError(f"network namespaces left behind: {left}")


class TcpForwarder:
    """socat in the root namespace: ``listen`` (address, port) → ``target`` (address, port), one
    forked socat per connection; a connection closed on one side is closed on the other, so a
    killed host's PostgreSQL sessions end when its process dies."""

    def __init__(self, lab, listen, target, log_path):
        self.lab, self.listen, self.target, self.log_path = lab, listen, target, log_path
        self.proc = None

    def start(self, timeout=10):
        socat = shutil.which("socat")
        if not socat:
            raise RuntimeError("socat is not installed (setup/bootstrap installs it: apt-get install socat)")
        host, port = self.listen
        self.proc = self.lab.spawn(
            None,
            [
                socat,
                f"TCP4-LISTEN:{port},bind={host},reuseaddr,fork,backlog=256",
                f"TCP4:{self.target[0]}:{self.target[1]}",
            ],
            self.log_path,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(self.listen, timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"socat did not listen on {host}:{port}: {Path(self.log_path).read_text()[-2000:]}"
                    ) from None
                time.sleep(0.05)


class RoundRobinProxy:
    """A TCP load balancer (threads of this process): each connection goes to the next backend
    that accepts it; a backend refusing (a dead host) is skipped. ``counts``: connections sent
    to each backend."""

    def __init__(self, listen, backends, connect_timeout=1.0):
        self.listen = listen
        self.backends = list(backends)
        self.connect_timeout = connect_timeout
        self.counts = {b: 0 for b in self.backends}
        self.refused = {b: 0 for b in self.backends}
        self._next = 0
        self._lock = threading.Lock()
        self._server = None
        self._stop = threading.Event()

    def start(self):
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(self.listen)
        self._server.listen(128)
        self._server.settimeout(0.5)
        threading.Thread(target=self._accept, daemon=True, name="rr-proxy").start()
        return self

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _connect(self):
        with self._lock:
            order = [self.backends[(self._next + i) % len(self.backends)] for i in range(len(self.backends))]
            self._next = (self._next + 1) % len(self.backends)
        for backend in order:
            try:
                upstream = socket.create_connection(backend, timeout=self.connect_timeout)
            except OSError:
                with self._lock:
                    self.refused[backend] += 1
                continue
            with self._lock:
                self.counts[backend] += 1
            return upstream
        return None

    def _serve(self, client):
        upstream = self._connect()
        if upstream is None:
            client.close()
            return
        client.settimeout(None)
        upstream.settimeout(None)
        pair = {client: upstream, upstream: client}
        try:
            while not self._stop.is_set():
                ready, _w, _x = select.select(list(pair), [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self):
        self._stop.set()
        if self._server is not None:
            self._server.close()
            self._server = None
