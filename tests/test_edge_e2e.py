"""The plant edge agent's traffic as Odoo sees it through a real Mosquitto and a real
`odoo mfg_mqtt` listener: the agent's retained status (read by the listener's edge_status claim
when it subscribes) and its MQTT will when it dies (kill -9). The agent here is a stand-in
process speaking the agent's contract (the agent itself is the `edge/` package)."""

import json
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime

import pytest
from mqtt_support import Broker, ListenerProcess, wait_until

AGENT = textwrap.dedent(
    """
    import json, sys, threading
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    port, topic, status = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    agent = json.loads(status)["agent"]
    client.will_set(topic, json.dumps({"agent": agent, "online": False}), qos=1, retain=True)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    client.publish(topic, status, qos=1, retain=True).wait_for_publish(30)
    print("ready", flush=True)
    threading.Event().wait()
    """
)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def backend(odoo_env, broker):
    suffix = uuid.uuid4().hex[:6]
    with odoo_env() as env:
        rec = env["mfg.backend"].create(
            {
                "name": f"Edge plant {suffix}",
                "code": f"edge-{suffix}",
                "plant_code": f"E{suffix}",
                "system_kind": "mes",
                "mqtt_enabled": True,
                "mqtt_port": broker.port,
            }
        )
        info = {"id": rec.id, "root": f"mfg/E{suffix}/mes", "inbound": rec.mqtt_inbound_topic}
    yield info
    with odoo_env() as env:
        env["mfg.backend"].browse(info["id"]).mqtt_enabled = False


def test_retained_status_then_will_through_the_listener(odoo_settings, broker, backend, sql, tmp_path):
    topic = f"{backend['root']}/edge/edge-e2e/status"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {
        "agent": "edge-e2e",
        "version": "0.9.1",
        "online": True,
        "started_at": now,
        "sent_at": now,
        "link": "up",
        "spool": {"depth": 7, "oldest_at": now},
        "cache": {"entries": 3, "newest_at": now, "age_seconds": 1.5},
        "sources": {"folder": {"files": 1}},
    }
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(broker.port), topic, json.dumps(status)],
        stdout=subprocess.PIPE,
        text=True,
    )
    listener = None
    try:
        assert agent.stdout.readline().strip() == "ready"
        # the listener comes after the status was published: it gets the retained one
        listener = ListenerProcess(odoo_settings, f"edge{uuid.uuid4().hex[:6]}", odoo_settings["log_dir"])
        listener.start(wait_for=f"subscribed to {backend['inbound']}")

        def row():
            rows = sql(
                "SELECT version, online, spool_depth, cache_entries, link FROM mfg_edge_agent "
                "WHERE backend_id = %s AND name = 'edge-e2e'",
                (backend["id"],),
            )
            return rows[0] if rows else None

        assert wait_until(lambda: row() == ("0.9.1", True, 7, 3, "up"), timeout=60), (row(), listener.tail())
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)
        # the broker publishes the agent's will: offline, the rest of what it said stays
        assert wait_until(lambda: row() == ("0.9.1", False, 7, 3, "up"), timeout=60), (row(), listener.tail())
    finally:
        if agent.poll() is None:
            agent.kill()
        if listener is not None:
            listener.kill()
