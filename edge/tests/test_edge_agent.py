"""The agent against a real Mosquitto: the spool reaches the broker in order and is emptied by
the acknowledgements; a killed agent publishes again what was not acknowledged; the cache answers
from retained messages, across restarts, and says when its answer is stale; the heartbeat and the
will."""

import json
import os
import signal
import subprocess
import sys
import threading

import paho.mqtt.client as mqtt
from edge_support import EDGE, call, wait_until, write_config
from paho.mqtt.enums import CallbackAPIVersion

ROOT = "mfg/T1/mes"


class Listener:
    def __init__(self, port, topic):
        self.messages = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _on_message(self, _c, _u, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload, msg.retain))

    def payloads(self):
        with self.lock:
            return [json.loads(p) if p else None for _t, p, _r in self.messages]

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def publish_retained(port, topic, payload):
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    data = payload if isinstance(payload, str) else b"" if payload is None else json.dumps(payload)
    client.publish(topic, data, qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def test_spooled_facts_reach_the_broker_in_order_and_leave_the_spool(broker, make_agent):
    listener = Listener(broker.port, f"{ROOT}/+")
    agent = make_agent(broker.port)
    for i in range(300):
        assert call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": f"f-{i}", "n": i})[0] == 202
    assert wait_until(lambda: len(listener.messages) >= 300)
    assert [p["message_id"] for p in listener.payloads()] == [f"f-{i}" for i in range(300)]
    assert {t for t, _p, _r in listener.messages} == {f"{ROOT}/mes.scrap"}
    assert wait_until(lambda: agent.spool.stats()["depth"] == 0)
    listener.close()


def test_what_waits_in_the_spool_goes_once_the_broker_is_there(broker, make_agent):
    # the broker is down while facts come in, then up: the spool (on disk) empties in order
    broker.stop()
    agent = make_agent(broker.port)
    for i in range(20):
        assert call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": f"w-{i}"})[0] == 202
    assert agent.spool.stats()["depth"] == 20
    broker.start()
    listener = Listener(broker.port, f"{ROOT}/+")
    assert wait_until(lambda: agent.spool.stats()["depth"] == 0, timeout=30)
    # the listener subscribed late may have missed the first ones; what it saw is in order
    ids = [p["message_id"] for p in listener.payloads()]
    assert ids == sorted(ids, key=lambda m: int(m.split("-")[1]))
    listener.close()


def test_a_killed_agent_publishes_again_what_was_not_acknowledged(broker, tmp_path):
    """kill -9 with rows in the spool (the broker unreachable): a new process publishes them."""
    conf = write_config(tmp_path / "edge.toml", broker.port, tmp_path, extra="")
    from mfg_edge.spool import Spool

    spool = Spool(str(tmp_path / "edge.sqlite"))
    for i in range(10):
        spool.put(f"{ROOT}/mes.scrap", json.dumps({"message_id": f"k-{i}"}).encode(), message_id=f"k-{i}")
    spool.close()
    listener = Listener(broker.port, f"{ROOT}/+")
    env = {**os.environ, "PYTHONPATH": str(EDGE)}
    proc = subprocess.Popen([sys.executable, "-m", "mfg_edge", "run", "--config", str(conf)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert wait_until(lambda: len(listener.messages) >= 10, timeout=30)
        assert [p["message_id"] for p in listener.payloads()][:10] == [f"k-{i}" for i in range(10)]
        status = Listener(broker.port, f"{ROOT}/edge/t1/status")
        assert wait_until(lambda: any(p and p.get("online") for p in status.payloads()))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # the broker publishes the will (retained): the agent is offline
        assert wait_until(lambda: status.payloads()[-1] == {"agent": "t1", "online": False}, timeout=30)
        status.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    publish_retained(broker.port, f"{ROOT}/edge/t1/status", None)
    listener.close()


def test_the_cache_answers_holds_and_materials_with_their_age_and_staleness(broker, make_agent):
    lot_topic = f"{ROOT}/odoo/erp.lot_status_changed.v1/PX%2FL-7"  # Odoo: <code>.v<version>/<key>
    hold = {"message_id": "h1", "lot": "L-7", "product": "PX", "status": "held", "since": "2026-01-02T03:04:05Z",
            "event_at": "2026-01-02T03:04:06Z", "reason": "NC-12 opened"}  # fmt: skip
    release = {"message_id": "r1", "work_order": "WO/0042", "product": "FG", "quantity": 5, "uom": "Units",
               "sent_at": "2026-01-02T03:00:00Z", "operations": [],
               "components": [{"component": "STEEL-1", "quantity": 2, "uom": "kg", "lots": ["S1"]}]}  # fmt: skip
    publish_retained(broker.port, lot_topic, hold)
    publish_retained(broker.port, f"{ROOT}/odoo/erp.work_order_release/WO%2F0042", release)
    publish_retained(broker.port, f"{ROOT}/bridge/state", "1")
    agent = make_agent(broker.port)

    def hold_answer(path="/v1/lots/L-7/hold"):
        return call(agent, "GET", path)[1]

    assert wait_until(lambda: hold_answer()["on_hold"] is True and hold_answer()["link"] == "up")
    answer = hold_answer()
    assert answer["stale"] is False and answer["status"] == "held" and answer["reason"] == "NC-12 opened"
    assert (
        answer["decided_at"] == "2026-01-02T03:04:05Z"
        and answer["age_seconds"] >= 0
        and answer["received_at"]
    )
    assert hold_answer("/v1/lots/L-7/hold?product=OTHER")["on_hold"] is None
    assert hold_answer("/v1/lots/UNKNOWN/hold")["on_hold"] is None
    part = call(agent, "GET", "/v1/work-orders/WO%2F0042/materials/STEEL-1")[1]
    assert (part["part_of"], part["quantity"], part["uom"], part["lots"]) == (True, 2, "kg", ["S1"])
    assert call(agent, "GET", "/v1/work-orders/WO%2F0042/materials/COPPER")[1]["part_of"] is False
    assert call(agent, "GET", "/v1/work-orders/WO-9/materials/STEEL-1")[1]["part_of"] is None
    # the link to the centre goes down: same answer, marked stale
    publish_retained(broker.port, f"{ROOT}/bridge/state", "0")
    assert wait_until(lambda: hold_answer()["link"] == "down")
    assert hold_answer()["stale"] is True and hold_answer()["on_hold"] is True
    # released in Odoo: the new retained payload replaces the hold
    publish_retained(broker.port, f"{ROOT}/bridge/state", "1")
    publish_retained(broker.port, lot_topic, {**hold, "message_id": "h2", "status": "released"})
    assert wait_until(lambda: hold_answer()["on_hold"] is False)
    agent.stop()
    # a restarted agent answers from its SQLite file before (and without) the broker
    broker.stop()
    again = make_agent(broker.port)
    answer = call(again, "GET", "/v1/lots/L-7/hold")[1]
    assert (answer["on_hold"], answer["link"], answer["stale"]) == (False, "unknown", True)
    broker.start()
    for topic in (lot_topic, f"{ROOT}/odoo/erp.work_order_release/WO%2F0042", f"{ROOT}/bridge/state"):
        publish_retained(broker.port, topic, None)


def test_old_entries_are_stale_even_with_the_link_up(broker, make_agent):
    publish_retained(broker.port, f"{ROOT}/bridge/state", "1")
    publish_retained(broker.port, f"{ROOT}/odoo/erp.lot_status_changed/L1",
                     {"message_id": "h", "lot": "L1", "product": "P", "status": "held"})  # fmt: skip
    agent = make_agent(broker.port, start=False)
    agent.config.cache_max_age_seconds = 0.001
    agent.start()
    assert wait_until(lambda: call(agent, "GET", "/v1/lots/L1/hold")[1]["link"] == "up")
    answer = call(agent, "GET", "/v1/lots/L1/hold")[1]
    assert answer["on_hold"] is True and answer["stale"] is True


def test_the_heartbeat_is_retained_with_the_documented_fields(broker, make_agent):
    agent = make_agent(broker.port)
    assert call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": "x"})[0] == 202
    assert wait_until(lambda: agent.spool.stats()["depth"] == 0)
    status = Listener(broker.port, f"{ROOT}/edge/t1/status")  # subscribed after: the retained copy
    assert wait_until(lambda: any(p and p["sources"]["rest"]["accepted"] == 1 for p in status.payloads()))
    beat = [p for p in status.payloads() if p and p["sources"]["rest"]["accepted"] == 1][-1]
    assert set(beat) == {
        "agent",
        "version",
        "online",
        "started_at",
        "sent_at",
        "link",
        "spool",
        "cache",
        "sources",
    }
    assert beat["agent"] == "t1" and beat["online"] is True and beat["spool"]["depth"] == 0
    assert set(beat["cache"]) == {"entries", "newest_at", "age_seconds"} and beat["link"] == "unknown"
    agent.stop()  # a graceful stop says offline (retained)
    assert wait_until(lambda: status.payloads()[-1] == {"agent": "t1", "online": False})
    status.close()


def test_the_link_is_down_when_the_centre_does_not_answer_even_if_the_bridge_says_up(broker, make_agent):
    """Mosquitto 2.0 keeps the bridge's local state at 1 after a network loss: the TCP probe of
    the central broker's address decides."""
    from edge_support import free_port

    publish_retained(broker.port, f"{ROOT}/bridge/state", "1")
    closed = free_port()
    agent = make_agent(broker.port, extra=f'[link]\ncentral = "127.0.0.1:{closed}"\nprobe_seconds = 0.2\n')
    assert wait_until(lambda: call(agent, "GET", "/v1/status")[1]["link"] == "down")
    reachable = make_agent(
        broker.port, extra=f'[link]\ncentral = "127.0.0.1:{broker.port}"\nprobe_seconds = 0.2\n'
    )
    assert wait_until(lambda: call(reachable, "GET", "/v1/status")[1]["link"] == "up")
    publish_retained(broker.port, f"{ROOT}/bridge/state", None)
