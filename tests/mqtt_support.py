"""Real Mosquitto brokers and real `odoo mfg_mqtt` listener processes for the MQTT tests.

Each test gets its own broker (own port, own persistence folder, own limits) so that it can
stop, kill and restart it freely without touching the machine's broker on 1883.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from odoo_process import die_with_parent, free_port
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    def __init__(
        self,
        workdir,
        max_queued_messages=0,
        max_inflight_messages=100,
        users=None,
        tls=None,
        require_certificate=False,
        host="127.0.0.1",
        port=None,
        prefix=(),
    ):
        """``users``: {name: password} (then anonymous access is refused); ``tls``: dict with
        cafile, certfile, keyfile (then the listener speaks TLS only); ``require_certificate``:
        clients must present a certificate signed by that CA. On another host (a network
        namespace, see ``netns_support``): ``prefix`` runs mosquitto through it (``ip netns exec
        <ns>``) and it listens on ``host``:``port`` there (it then dies with this process)."""
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port()
        self.prefix = list(prefix)
        self.conf = self.dir / "mosquitto.conf"
        self.log = self.dir / "mosquitto.log"
        security = "allow_anonymous true\n"
        if users:
            pwfile = self.dir / "passwords"
            pwfile.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
            subprocess.run(["mosquitto_passwd", "-U", str(pwfile)], check=True, capture_output=True)
            security = f"allow_anonymous false\npassword_file {pwfile}\n"
        if tls:
            security += f"cafile {tls['cafile']}\ncertfile {tls['certfile']}\nkeyfile {tls['keyfile']}\n"
            if require_certificate:
                security += "require_certificate true\n"
        # max_queued_messages 0 = no limit on what is kept for an offline persistent session
        # (mosquitto's default is 1000: see README, "MQTT broker settings").
        self.conf.write_text(
            f"listener {self.port} {host}\n"
            # mosquitto started as root drops to the 'mosquitto' user, which cannot read the
            # test's private folders: stay the user who runs the tests.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            f"{security}"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 1\n"
            f"max_queued_messages {max_queued_messages}\n"
            f"max_inflight_messages {max_inflight_messages}\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self.proc = None

    def start(self, timeout=10):
        self.proc = subprocess.Popen(
            [*self.prefix, MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if self.prefix else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError as exc:
                if self.proc.poll() is not None:
                    log = self.log.read_text() if self.log.exists() else ""
                    raise RuntimeError(f"mosquitto exited: {log}") from exc
                time.sleep(0.1)
        raise RuntimeError("mosquitto did not start")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None


def make_tls_files(directory):
    """A throwaway CA, a server certificate for 127.0.0.1 / localhost and a client certificate
    signed by the CA (openssl CLI)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=mfg-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=odoo",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    )
    run(
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "client.crt",
    )
    return {
        "cafile": str(d / "ca.crt"),
        "certfile": str(d / "server.crt"),
        "keyfile": str(d / "server.key"),
        "client_certfile": str(d / "client.crt"),
        "client_keyfile": str(d / "client.key"),
    }


class ListenerProcess:
    """`odoo --addons-path=... mfg_mqtt -c <conf> -d <db> --listener-name <name>`.

    On another host (a network namespace, see ``netns_support``): ``prefix`` runs the command
    through it (``ip netns exec <ns>``; the process then dies with this one), ``env`` adds
    variables."""

    def __init__(self, settings, name, log_dir, extra=(), prefix=(), env=None):
        self.settings = settings
        self.name = name
        self.log = Path(log_dir) / f"listener-{name}-{os.getpid()}.log"
        self.extra = list(extra)
        self.prefix = list(prefix)
        self.env = dict(env or {})
        self.proc = None

    def _addons_path(self):
        for line in Path(self.settings["conf"]).read_text().splitlines():
            if line.startswith("addons_path"):
                return line.split("=", 1)[1].strip()
        raise RuntimeError("no addons_path in the test configuration")

    def start(self, wait_for=None, timeout=60, occurrence=1):
        cmd = [
            *self.prefix,
            self.settings["odoo_bin"],
            f"--addons-path={self._addons_path()}",
            "mfg_mqtt",
            "-c",
            self.settings["conf"],
            "-d",
            self.settings["db"],
            f"--logfile={self.log}",
            "--listener-name",
            self.name,
            *self.extra,
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
            preexec_fn=die_with_parent if self.prefix else None,
        )
        if wait_for:
            self.wait_log(wait_for, timeout, occurrence)
        return self

    def wait_log(self, text, timeout=60, occurrence=1):
        """Wait until ``text`` is in the log ``occurrence`` times (a restarted process with the
        same name appends to the same log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and self.log.read_text(errors="replace").count(text) >= occurrence:
                return True
            if self.proc.poll() is not None:
                raise RuntimeError(f"listener exited with {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.2)
        raise RuntimeError(f"listener did not log {text!r} in {timeout}s:\n{self.tail()}")

    def tail(self, n=40):
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Publisher:
    """A plant system publishing QoS 1 messages; counts PUBACKs. Survives broker restarts."""

    def __init__(
        self,
        port,
        client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        username=None,
        password=None,
        cafile=None,
        certfile=None,
        keyfile=None,
        host="127.0.0.1",
    ):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        if username:
            self.client.username_pw_set(username, password)
        if cafile:
            self.client.tls_set(ca_certs=cafile, certfile=certfile, keyfile=keyfile)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=2)
        self.acked = 0
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.connected = threading.Event()
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.on_disconnect = lambda *a: self.connected.clear()
        kwargs = {"clean_start": False} if protocol == MQTTProtocolVersion.MQTTv5 else {}
        self.client.connect_async(host, port, keepalive=10, **kwargs)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("publisher could not connect")

    def _on_publish(self, *_args):
        with self._lock:
            self.acked += 1

    def publish(self, topic, payload, message_id=None, user_properties=None):
        props = None
        pairs = ([("message_id", message_id)] if message_id else []) + list(user_properties or [])
        if pairs:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = pairs
        return self.client.publish(topic, payload, qos=1, properties=props)

    def wait_acked(self, n, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.acked >= n:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class Subscriber:
    """Collects what a plant system would receive on a topic filter."""

    def __init__(self, port, topic, client_id):
        self.messages = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.ready = threading.Event()

        def on_connect(client, *_a):
            client.subscribe(topic, qos=1)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda _c, _u, msg: self.messages.append(msg)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=2)
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("subscriber could not subscribe")

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(predicate, timeout=120, interval=0.25):
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value
