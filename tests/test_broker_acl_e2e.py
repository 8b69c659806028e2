"""The central broker's ACL per plant, enforced by a real Mosquitto (issue 18, plant edge).

Two MQTT backends (plants A and B) in the test database; ``odoo mfg_mqtt_acl`` writes the acl_file;
a central Mosquitto started here (free loopback ports) reads it:

    127.0.0.1:<port>      Odoo's listener: user odoo-central (password)
    127.0.0.1:<tls port>  the plants: TLS, client certificate required, its CN is the user name
                          (plant-<backend code>: the certificates of tests/test_plant_bridge_e2e.py)

Shown: plant A's fact on its own topic reaches Odoo; what A publishes as plant B (facts, edge
status, files, bridge state, B's releases) or on its own odoo/ topics is refused (MQTT 5 PUBACK
"Not authorized"; Mosquitto 2.0 then closes the connection) and never delivered; A subscribed to B's odoo/#
receives nothing while B receives its release; a plant broker bridged with the configuration of
``odoo mfg_mqtt_bridge`` connects (its will and notifications are allowed) and forwards. Non-
delivery is shown by a sentinel published after the forbidden messages by the same client: QoS 1
from one client is delivered in order, so the sentinel arriving alone means the others were dropped.
"""

import os
import pwd
import signal
import subprocess
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from mqtt_support import MOSQUITTO, Broker, wait_until
from odoo_process import free_port
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from plant_support import addons_path, make_certs, openssl

ODOO_USER = "odoo-central"
TIMEOUT = 15


class Client:
    """A paho client that records what it receives; subscriptions and QoS 1 publishes awaited."""

    def __init__(self, name, port, tls=None, username=None, password=None, will=None, mqtt5=False):
        self.name = name
        self.messages = []
        self.acks = {}  # mid -> PUBACK reason code (MQTT 5)
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=name,
            protocol=MQTTProtocolVersion.MQTTv5 if mqtt5 else MQTTProtocolVersion.MQTTv311,
        )
        if tls:
            self.client.tls_set(ca_certs=tls["ca"], certfile=tls["cert"], keyfile=tls["key"])
        if username:
            self.client.username_pw_set(username, password)
        if will:
            self.client.will_set(will, b"0", qos=1, retain=True)
        self.client.on_connect = lambda _c, _u, _f, rc, _p: rc == 0 and self.connected.set()
        self.client.on_message = self._on_message
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.acks.__setitem__(mid, str(rc))
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.connected.wait(TIMEOUT), f"{name} could not connect"

    def _on_message(self, _client, _userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode()))

    def received(self):
        with self.lock:
            return list(self.messages)

    def subscribe(self, *topics):
        done = threading.Event()
        self.client.on_subscribe = lambda *_a: done.set()
        self.client.subscribe([(topic, 1) for topic in topics])
        assert done.wait(TIMEOUT), f"{self.name}: no SUBACK"

    def publish(self, topic, payload):
        """Published at QoS 1, its PUBACK awaited; the PUBACK's reason code (MQTT 5)."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(TIMEOUT)
        assert wait_until(lambda: info.mid in self.acks, timeout=TIMEOUT, interval=0.02)
        return self.acks[info.mid]

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def client_cert(certs, code):
    """Another plant's client certificate, signed by the CA of ``make_certs`` (same helper)."""
    openssl(certs, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=plant-{code}",
            "-keyout", f"{code}.key", "-out", f"{code}.csr")  # fmt: skip
    openssl(certs, "x509", "-req", "-in", f"{code}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{code}.crt")  # fmt: skip


def odoo_command(odoo_settings, name, *args):
    return subprocess.run(
        [
            odoo_settings["odoo_bin"],
            f"--addons-path={addons_path(odoo_settings['conf'])}",
            name,
            "-c",
            odoo_settings["conf"],
            "-d",
            odoo_settings["db"],
            *args,
            "--log-level=warn",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def central(odoo_settings, odoo_env, tmp_path):
    """Backends of plants A and B, their certificates, the ACL written by ``odoo mfg_mqtt_acl``
    and the central Mosquitto reading it; removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    codes = {"a": f"acl-a-{suffix}", "b": f"acl-b-{suffix}"}
    certs = make_certs(tmp_path / "certs", "127.0.0.1", codes["a"])  # CA, central, plant A
    client_cert(certs, codes["b"])
    tls_port = free_port()
    with odoo_env() as env:
        backends = env["mfg.backend"].create(
            [
                {
                    "name": f"ACL plant {key.upper()} {suffix}",
                    "code": code,
                    "plant_code": f"{key.upper()}{suffix}",
                    "system_kind": "mes",
                    "mqtt_enabled": True,
                    "mqtt_bridge_address": f"127.0.0.1:{tls_port}",
                    "mqtt_bridge_keepalive": 5,
                    "mqtt_bridge_cert_dir": str(certs),
                }
                for key, code in codes.items()
            ]
        )
        backend_ids = backends.ids
    central = None
    try:
        acl = tmp_path / "central-acl"
        odoo_command(
            odoo_settings, "mfg_mqtt_acl", "--output", str(acl), "--acl-path", str(acl),
            "--odoo-identity", ODOO_USER,
        )  # fmt: skip
        password = uuid.uuid4().hex
        central = Broker(tmp_path / "central", users={ODOO_USER: password})
        with central.conf.open("a") as conf:
            conf.write(
                f"acl_file {acl}\n"
                f"listener {tls_port} 127.0.0.1\n"
                f"cafile {certs}/ca.crt\ncertfile {certs}/central.crt\nkeyfile {certs}/central.key\n"
                "require_certificate true\nuse_identity_as_username true\n"
            )
        central.start()
        yield {
            "port": central.port,
            "tls_port": tls_port,
            "password": password,
            "certs": certs,
            "codes": codes,
            "roots": {key: f"mfg/{key.upper()}{suffix}/mes" for key in codes},
            "acl": acl.read_text(),
            "tmp": tmp_path,
        }
    finally:
        if central is not None:
            central.stop(sig=signal.SIGKILL)
        with odoo_env() as env:
            env["mfg.backend"].browse(backend_ids).unlink()


def plant_tls(central, key):
    certs, code = central["certs"], central["codes"][key]
    return {
        "ca": str(certs / "ca.crt"),
        "cert": str(certs / f"{code}.crt"),
        "key": str(certs / f"{code}.key"),
    }


def test_each_plant_only_on_its_own_topics(central):
    roots = central["roots"]
    assert f"user plant-{central['codes']['a']}" in central["acl"]
    odoo = Client("odoo-acl", central["port"], username=ODOO_USER, password=central["password"])
    plant_a = Client(
        "plant-a", central["tls_port"], tls=plant_tls(central, "a"), will=f"{roots['a']}/bridge/state"
    )
    plant_b = Client("plant-b", central["tls_port"], tls=plant_tls(central, "b"))
    try:
        odoo.subscribe("mfg/#")
        # 1. plant A's fact on its own topic reaches Odoo
        plant_a.publish(f"{roots['a']}/test.fact", "a-1")
        assert wait_until(lambda: odoo.received(), timeout=TIMEOUT, interval=0.05)
        assert odoo.received() == [(f"{roots['a']}/test.fact", "a-1")]
        # 2. plant A as plant B, or as Odoo: refused (MQTT 5 PUBACK "Not authorized"; Mosquitto
        #    2.0 then closes the connection, so one connection each); the sentinel, published
        #    once they are all acknowledged, arrives alone
        for number, forged in enumerate(
            (
                f"{roots['b']}/test.fact",
                f"{roots['b']}/edge/agent/status",
                f"{roots['b']}/files/orders.csv",
                f"{roots['b']}/bridge/state",
                f"{roots['b']}/odoo/work_order_release",
                f"{roots['a']}/odoo/work_order_release",
                f"$SYS/broker/connection/plant-{central['codes']['b']}/state",
            )
        ):
            forger = Client(
                f"plant-a-forger-{number}", central["tls_port"], tls=plant_tls(central, "a"), mqtt5=True
            )
            try:
                assert forger.publish(forged, "forged") == "Not authorized", forged
            finally:
                forger.close()
        plant_a.publish(f"{roots['a']}/test.fact", "a-sentinel")
        assert wait_until(lambda: len(odoo.received()) >= 2, timeout=TIMEOUT, interval=0.05)
        assert odoo.received() == [
            (f"{roots['a']}/test.fact", "a-1"),
            (f"{roots['a']}/test.fact", "a-sentinel"),
        ]
        # 3. releases: B gets its own; A, subscribed to B's odoo/# too, only gets the sentinel
        #    Odoo publishes after B's release
        plant_a.subscribe(f"{roots['b']}/odoo/#", f"{roots['a']}/odoo/#", "mfg/#")
        plant_b.subscribe(f"{roots['b']}/odoo/#")
        odoo.publish(f"{roots['b']}/odoo/work_order_release", "release-b")
        odoo.publish(f"{roots['a']}/odoo/work_order_release", "release-a")
        assert wait_until(lambda: plant_b.received(), timeout=TIMEOUT, interval=0.05)
        assert wait_until(lambda: plant_a.received(), timeout=TIMEOUT, interval=0.05)
        assert plant_b.received() == [(f"{roots['b']}/odoo/work_order_release", "release-b")]
        assert plant_a.received() == [(f"{roots['a']}/odoo/work_order_release", "release-a")]
    finally:
        for client in (odoo, plant_a, plant_b):
            client.close()


def test_generated_bridge_connects_and_forwards_under_the_acl(central, odoo_settings):
    """The plant broker of ``odoo mfg_mqtt_bridge`` (will and notifications on its state topic,
    QoS 1 both ways) works with the ACL: it is the plant identity's only client in production."""
    roots, code = central["roots"], central["codes"]["a"]
    plant_dir = central["tmp"] / "plant-broker"
    plant_dir.mkdir()
    plant_port = free_port()
    plant_conf = central["tmp"] / "plant-mosquitto.conf"
    odoo_command(
        odoo_settings, "mfg_mqtt_bridge", "--backend", code, "--output", str(plant_conf),
        "--persistence-location", str(plant_dir), "--listener", f"127.0.0.1:{plant_port}",
    )  # fmt: skip
    with plant_conf.open("a") as conf:
        # test-only: stay the user who runs the tests (private folders), log for the failure report
        conf.write(
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\nlog_dest file {plant_dir}/mosquitto.log\nlog_type all\n"
        )
    odoo = Client("odoo-acl-bridge", central["port"], username=ODOO_USER, password=central["password"])
    odoo.subscribe(f"{roots['a']}/#")
    plant_broker = subprocess.Popen(
        [MOSQUITTO, "-c", str(plant_conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    plant_system = None
    try:
        # the bridge's notification (allowed by the ACL) says it is connected
        assert wait_until(
            lambda: (f"{roots['a']}/bridge/state", "1") in odoo.received(), timeout=TIMEOUT, interval=0.05
        ), (plant_dir / "mosquitto.log").read_text()[-3000:] if (plant_dir / "mosquitto.log").exists() else ""
        plant_system = Client("plant-a-mes", plant_port)
        plant_system.subscribe(f"{roots['a']}/odoo/#")
        # a fact of the plant reaches Odoo through the bridge; a release comes back
        plant_system.publish(f"{roots['a']}/test.fact", "through-the-bridge")
        assert wait_until(
            lambda: (f"{roots['a']}/test.fact", "through-the-bridge") in odoo.received(),
            timeout=TIMEOUT,
            interval=0.05,
        )
        odoo.publish(f"{roots['a']}/odoo/work_order_release", "release-a")
        assert wait_until(lambda: plant_system.received(), timeout=TIMEOUT, interval=0.05)
        assert plant_system.received() == [(f"{roots['a']}/odoo/work_order_release", "release-a")]
    finally:
        if plant_system is not None:
            plant_system.close()
        odoo.close()
        plant_broker.kill()
        plant_broker.wait(timeout=10)
